"""The MNIST MLP GAN, on minigan: three fully connected GANs from well-known sources.

    python examples/mnist_mlp.py [--arch default|bn|small] [--data-dir DIR] [--max-steps N] [--backend cupy]
                                 [--log-grads] [--g-loss non-saturating|saturating] [--ema 0.999]
                                 [--label-smoothing S] [--label-flip P] [--instance-noise SIGMA] [--d-lr LR]
                                 [--d-steps K] [--clip-grad NORM] [--spectral-norm] [--minibatch-std]
                                 [--feature-matching]

--arch default  CS231n's GAN: D 784-256-256-1 with LeakyReLU(0.2), G 96-1024-1024-784 with ReLU
                and Tanh, BCE-with-logits, Adam(5e-4, betas (0.5, 0.999)), batch 128, uniform noise.
--arch bn       PyTorch-GAN's gan.py: G 100-128-256-512-1024-784 with BatchNorm1d(eps=0.8) and
                LeakyReLU(0.2), D 784-512-256-1 ending in Sigmoid, BCE on probabilities,
                Adam(2e-4, betas (0.5, 0.999)), batch 64, Gaussian noise, G step first.
--arch small    a small GAN: G 100-128-128-784, D 784-128-128-1, LeakyReLU, one-sided label
                smoothing (real labels 0.9), Adam(1e-3), batch 100, uniform noise.

The stabilising tricks (examples/gan_tricks.py, measured in docs/TRICKS.md) apply to the default and
small archs, whose D gives logits.
"""
import minigan
import minigan.nn as nn
import minigan.nn.functional as F
import gan_tricks
from minigan.data import load_mnist, scale_images
from minigan.utils.training import (TrainingRun, check_arguments, data_parallel, example_arguments, example_device,
                                    moving_average, resolve_epochs, run_main)

ARCHS = {
    "default": dict(noise_dim=96, batch_size=128, lr=5e-4, betas=(0.5, 0.999), epochs=5),
    "bn": dict(noise_dim=100, batch_size=64, lr=2e-4, betas=(0.5, 0.999), epochs=5),
    "small": dict(noise_dim=100, batch_size=100, lr=1e-3, betas=(0.9, 0.999), epochs=5),
}


def build_default():
    D = nn.Sequential(nn.Linear(784, 256), nn.LeakyReLU(0.2), nn.Linear(256, 256), nn.LeakyReLU(0.2),
                      nn.Linear(256, 1))
    G = nn.Sequential(nn.Linear(96, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                      nn.Linear(1024, 784), nn.Tanh())
    return G, D


def build_bn():
    def block(in_features, out_features, normalize=True):
        layers = [nn.Linear(in_features, out_features)]
        if normalize:
            layers.append(nn.BatchNorm1d(out_features, 0.8))  # eps = 0.8, exactly as the source
        layers.append(nn.LeakyReLU(0.2))
        return layers

    G = nn.Sequential(*block(100, 128, normalize=False), *block(128, 256), *block(256, 512),
                      *block(512, 1024), nn.Linear(1024, 784), nn.Tanh())
    D = nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256), nn.LeakyReLU(0.2),
                      nn.Linear(256, 1), nn.Sigmoid())
    return G, D


def build_small():
    G = nn.Sequential(nn.Linear(100, 128), nn.LeakyReLU(), nn.Linear(128, 128), nn.LeakyReLU(),
                      nn.Linear(128, 784), nn.Tanh())
    D = nn.Sequential(nn.Linear(784, 128), nn.LeakyReLU(), nn.Linear(128, 128), nn.LeakyReLU(),
                      nn.Linear(128, 1))
    return G, D


def noise(arch, batch, noise_dim, device):
    if arch == "bn":
        return minigan.randn(batch, noise_dim, device=device)
    return minigan.rand(batch, noise_dim, device=device) * 2 - 1  # uniform in [-1, 1]


def logits_step(G, D, optimizer_G, optimizer_D, real, noise_fn, real_label, saturating=False, options=None,
                progress=0.0, features=None):
    """D on real and fake (logits, BCE-with-logits), then G on fresh noise; returns both losses.

    D sees real and fake as one batch, which halves its launches on a GPU and gives the same loss
    as two passes (D has no batch statistics): the sum of the mean losses on real and on fake.
    `options` (the parsed flags; default: none) switches on the tricks of examples/gan_tricks.py;
    `progress` is the fraction of the run done, `features` D without its last layer (for
    --feature-matching).
    """
    options = options or gan_tricks.NONE
    batch, device = real.shape[0], real.device
    for _ in range(options.d_steps):
        labels = gan_tricks.targets(batch, real_label, options, device)
        optimizer_D.zero_grad()
        fake = G(noise_fn()).detach()
        seen_real, seen_fake = gan_tricks.noisy(real, options, progress), gan_tricks.noisy(fake, options, progress)
        if options.minibatch_std:  # the batch statistic must come from one kind of image
            scores = minigan.cat([D(seen_real), D(seen_fake)])
        else:
            scores = D(minigan.cat([seen_real, seen_fake]))
        loss_D = F.binary_cross_entropy_with_logits(scores, labels, reduction="sum") / batch
        loss_D.backward()
        gan_tricks.clip(D, options)
        optimizer_D.step()

    optimizer_G.zero_grad()
    D.requires_grad_(False)  # D's gradients from this step would go unused (the next D step zeroes them)
    fake = G(noise_fn())
    if options.feature_matching:  # ‖mean f(real) − mean f(fake)‖²
        loss_G = gan_tricks.feature_matching_loss(features, real, fake)
    elif saturating:  # the minimax game's own loss, E[log(1 - D(G(z)))]: its gradient vanishes while D wins
        loss_G = -F.binary_cross_entropy_with_logits(D(fake), minigan.zeros(batch, 1, device=device))
    else:
        loss_G = F.binary_cross_entropy_with_logits(D(fake), minigan.ones(batch, 1, device=device))
    loss_G.backward()
    D.requires_grad_(True)
    gan_tricks.clip(G, options)
    optimizer_G.step()
    return loss_D, loss_G


def probability_step(G, D, optimizer_G, optimizer_D, real, noise_fn):
    """PyTorch-GAN's order: G first, then D on the same fakes, detached; D loss is the mean of two."""
    valid = minigan.ones(real.shape[0], 1, device=real.device)
    fake_label = minigan.zeros(real.shape[0], 1, device=real.device)
    optimizer_G.zero_grad()
    fake = G(noise_fn())
    loss_G = F.binary_cross_entropy(D(fake), valid)
    loss_G.backward()
    optimizer_G.step()

    optimizer_D.zero_grad()
    loss_D = (F.binary_cross_entropy(D(real), valid) + F.binary_cross_entropy(D(fake.detach()), fake_label)) / 2
    loss_D.backward()
    optimizer_D.step()
    return loss_D, loss_G


def main(argv=None):
    parser = example_arguments(__doc__.splitlines()[0], epochs=5, batch_size=None, lr=None)
    parser.add_argument("--arch", default="default", choices=sorted(ARCHS))
    parser.add_argument("--g-loss", default="non-saturating", choices=["non-saturating", "saturating"],
                        help="G's loss (default and small archs): see docs/GANS.md; compare them with --log-grads")
    gan_tricks.add_arguments(parser)
    args = parser.parse_args(argv)
    config = ARCHS[args.arch]
    args.batch_size = config["batch_size"] if args.batch_size is None else args.batch_size
    args.lr = config["lr"] if args.lr is None else args.lr
    check_arguments(parser, args)
    gan_tricks.check_arguments(parser, args)
    if args.arch == "bn" and args.g_loss == "saturating":
        parser.error("--g-loss saturating needs D's logits: use --arch default or small")
    if args.arch == "bn" and gan_tricks.chosen(args):
        parser.error("the tricks flags need D's logits: use --arch default or small")
    minigan.manual_seed(args.seed)
    device = example_device(args)

    images = scale_images(load_mnist(args.data_dir).images).reshape(-1, 784)  # [-1, 1], flat
    resolve_epochs(args, len(images), config["epochs"])
    G, D = {"default": build_default, "bn": build_bn, "small": build_small}[args.arch]()
    if args.arch != "bn":
        D = gan_tricks.prepare_discriminator(D, args)
    features = D[:-1]  # what D's last layer reads, for --feature-matching
    G.to(device), D.to(device)
    if device == "cuda":  # each Linear's bias and the activation after it in one kernel, not two
        nn.utils.fuse(G), nn.utils.fuse(D)
    ema = moving_average(args, G)  # with --ema: the samples come from G's averaged weights
    sampler = G if ema is None else ema.model
    G, D = data_parallel(args, G, D)
    optimizer_G = minigan.optim.Adam(G.parameters(), lr=args.lr, betas=config["betas"])
    optimizer_D = minigan.optim.Adam(D.parameters(), lr=args.d_lr or args.lr, betas=config["betas"])
    noise_fn = lambda: noise(args.arch, args.batch_size, config["noise_dim"], device)  # noqa: E731
    fixed_noise = noise(args.arch, 16, config["noise_dim"], device)

    run = TrainingRun(f"mnist_mlp_{args.arch}" if args.arch != "default" else "mnist_mlp", args,
                      models={"G": G, "D": D, **({} if ema is None else {"G_ema": ema.model})},
                      optimizers={"G": optimizer_G, "D": optimizer_D})

    @minigan.no_grad()
    def samples():  # the BatchNorm generator samples in training mode, as the source does
        return sampler(fixed_noise).reshape(-1, 1, 28, 28)

    run.set_sampler(samples)
    run.set_digit_scores(lambda n: sampler(noise(args.arch, n, config["noise_dim"], device)), images)
    for _, _, indices in run.batches(len(images)):
        real = minigan.tensor(images[indices], device=device)
        if args.arch == "bn":
            loss_D, loss_G = probability_step(G, D, optimizer_G, optimizer_D, real, noise_fn)
        else:
            real_label = 0.9 if args.arch == "small" else 1.0  # one-sided label smoothing
            loss_D, loss_G = logits_step(G, D, optimizer_G, optimizer_D, real, noise_fn, real_label,
                                         saturating=args.g_loss == "saturating", options=args,
                                         progress=run.step / run.total_steps, features=features)
        if ema is not None:
            ema.update(G)
        run.log({"D": loss_D, "G": loss_G})
    return run.finish()


if __name__ == "__main__":
    run_main(main)
