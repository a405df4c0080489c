"""The usual cures for a GAN's troubles, as flags of the MNIST MLP GAN and the DCGAN (docs/TRICKS.md
measures each).

    python examples/mnist_mlp.py --label-smoothing 0.1 --instance-noise 0.1 --d-steps 2 ...
    python examples/dcgan.py --minibatch-std --feature-matching ...

Each is a line or two of user code, here once for the example to use:

    --label-smoothing S   D's target for real images is 1 − S instead of 1 (one-sided)
    --label-flip P        each of D's targets t is swapped to 1 − t with probability P
    --instance-noise σ    D sees x + σ·(1 − progress)·ε, real and fake alike, σ annealed to 0
    --d-lr LR             D's own learning rate (G keeps --lr)
    --d-steps K           K updates of D (each on fresh fakes) per update of G
    --clip-grad NORM      both networks' gradients scaled down to a total norm of at most NORM
    --spectral-norm       every Linear (or conv) of D under spectral_norm: W / σ_max(W)
    --minibatch-std       D's last layer also sees the mean over features of their standard
                          deviation across the batch (real and fake batches go through D apart)
    --feature-matching    G's loss is ‖mean f(real) − mean f(fake)‖², f the features D's last
                          layer reads, instead of fooling D's output
"""
import argparse

import minigan
import minigan.nn as nn


def add_arguments(parser, spectral_norm=True):
    """The flags; `spectral_norm=False` for an example that has its own --spectral-norm (dcgan.py)."""
    parser.add_argument("--label-smoothing", type=float, default=0.0, metavar="S",
                        help="D's target for real images is 1 - S (one-sided label smoothing)")
    parser.add_argument("--label-flip", type=float, default=0.0, metavar="P",
                        help="swap each of D's targets (real/fake) with probability P")
    parser.add_argument("--instance-noise", type=float, default=0.0, metavar="SIGMA",
                        help="Gaussian noise of std SIGMA on D's inputs, annealed linearly to 0 over the run")
    parser.add_argument("--d-lr", type=float, default=None, help="D's learning rate (default: --lr)")
    parser.add_argument("--d-steps", type=int, default=1, metavar="K", help="D updates per G update")
    parser.add_argument("--clip-grad", type=float, default=None, metavar="NORM",
                        help="clip each network's gradients to this total norm before its step")
    if spectral_norm:
        parser.add_argument("--spectral-norm", action="store_true", help="spectral_norm on every Linear of D")
    parser.add_argument("--minibatch-std", action="store_true",
                        help="a minibatch standard-deviation feature before D's last layer")
    parser.add_argument("--feature-matching", action="store_true",
                        help="G matches the mean of D's last features on real images instead of fooling D")


def _defaults():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args([])


NONE = _defaults()  # the flags' defaults: every trick off


def chosen(args):
    """The tricks whose flags `args` sets away from their defaults."""
    return [name for name, default in vars(NONE).items() if getattr(args, name, default) != default]


def check_arguments(parser, args):
    if not 0 <= args.label_smoothing < 1 or not 0 <= args.label_flip <= 0.5:
        parser.error(f"--label-smoothing must be in [0, 1) and --label-flip in [0, 0.5], got "
                     f"{args.label_smoothing} and {args.label_flip}")
    if args.instance_noise < 0 or args.d_steps < 1 or (args.clip_grad is not None and args.clip_grad <= 0) \
            or (args.d_lr is not None and args.d_lr <= 0):
        parser.error("--instance-noise must be >= 0, --d-steps >= 1, --clip-grad and --d-lr > 0")


class MinibatchStd(nn.Module):
    """x (N, F) -> (N, F + 1), or (N, C, H, W) -> (N, C + 1, H, W): the new feature is the mean over
    features (and positions) of x's standard deviation across the batch (Karras et al., 2018), the
    same everywhere: a D that sees it can tell a batch of near-identical fakes from a varied batch
    of real images."""

    def forward(self, x):
        spread = x.std(0, unbiased=False).mean()
        return minigan.cat([x, spread.expand(x.shape[0], 1, *x.shape[2:])], 1)


def prepare_discriminator(D, args):
    """D (an nn.Sequential ending in a Linear) with --spectral-norm and --minibatch-std applied."""
    if args.spectral_norm:
        for layer in D:
            if isinstance(layer, nn.Linear):
                nn.utils.spectral_norm(layer)
    if args.minibatch_std:
        last = D[-1]
        D = nn.Sequential(*list(D)[:-1], MinibatchStd(), nn.Linear(last.in_features + 1, last.out_features))
    return D


def with_minibatch_std(layers, last):
    """`layers` (a list) with MinibatchStd and a copy of the convolution `last`, one input channel
    wider, appended: DCGAN's D with the feature before its last convolution."""
    return layers + [MinibatchStd(), nn.Conv2d(last.in_channels + 1, last.out_channels, last.kernel_size,
                                               last.stride, last.padding, bias=last.bias is not None)]


def targets(batch, real_label, args, device):
    """D's targets for a batch of `batch` real then `batch` fake images, (2·batch, 1)."""
    real = 1 - args.label_smoothing if args.label_smoothing else real_label
    labels = minigan.cat([minigan.full((batch, 1), real, device=device), minigan.zeros(batch, 1, device=device)])
    if args.label_flip:  # t ← 1 − t with probability P
        flipped = minigan.rand(2 * batch, 1, device=device) < args.label_flip
        labels = minigan.where(flipped, 1 - labels, labels)
    return labels


def noisy(images, args, progress):
    """x + σ·(1 − progress)·ε: instance noise, annealed from σ at the start to 0 at the end."""
    if not args.instance_noise:
        return images
    return images + args.instance_noise * (1 - progress) * minigan.randn_like(images)


def clip(model, args):
    if args.clip_grad is not None:
        nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)


def feature_matching_loss(features, real, fake):
    """‖mean f(real) − mean f(fake)‖², the means over the batch (Salimans et al., 2016)."""
    return ((features(real).detach().mean(0) - features(fake).mean(0)) ** 2).sum()
