"""WGAN-GP on minigan: the DCGAN shape, a critic without Sigmoid, and a gradient penalty.

    python examples/wgan_gp.py [--n-critic 5] [--lambda-gp 10] [--lr 2e-4 --beta1 0.5 --beta2 0.9] [--max-steps N]
                               [--ema 0.999]

The critic is DCGAN's discriminator with InstanceNorm2d(affine=True) in place of BatchNorm and no
Sigmoid: it scores, it does not classify. Per step it is updated on one batch; every `--n-critic`
steps the generator is updated once. The penalty pushes the norm of the critic's gradient at
random interpolates x̂ = a·real + (1 - a)·fake (one a per example) towards 1:

    penalty = λ · mean((‖∇x̂ D(x̂)‖₂ - 1)²)

which needs the gradient of a gradient: `minigan.grad(..., create_graph=True)`. The paper itself
uses Adam(1e-4, betas (0, 0.9)): `--lr 1e-4 --beta1 0 --beta2 0.9`.
"""
import minigan
import minigan.nn as nn
from dcgan import Discriminator, Generator, gan_arguments, load_images, weights_init
from minigan.utils.training import (TrainingRun, check_arguments, data_parallel, example_device, moving_average,
                                    resolve_epochs, run_main)


def gradient_penalty(critic, real, fake):
    """λ-free penalty: mean over the batch of (‖∇x̂ critic(x̂)‖₂ - 1)²."""
    batch = real.shape[0]
    alpha = minigan.rand(batch, 1, 1, 1, dtype=real.dtype, device=real.device)  # per example, not per pixel
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = critic(interpolates)
    (gradients,) = minigan.grad(scores, interpolates, grad_outputs=minigan.ones_like(scores), create_graph=True)
    return ((gradients.reshape(batch, -1).norm(2, dim=1) - 1) ** 2).mean()


def critic_step(G, critic, optimizer_C, real, nz, lambda_gp):
    """Score real high, fake low, and keep the critic's gradient norm near 1; returns the losses."""
    optimizer_C.zero_grad()
    fake = G(minigan.randn(real.shape[0], nz, 1, 1, device=real.device)).detach()
    score_real, score_fake = critic(real).mean(), critic(fake).mean()
    penalty = gradient_penalty(critic, real, fake)
    loss_C = score_fake - score_real + lambda_gp * penalty
    loss_C.backward()
    optimizer_C.step()
    return {"critic": loss_C, "wasserstein": score_real - score_fake, "penalty": penalty}


def generator_step(G, critic, optimizer_G, batch, nz, device):
    """Raise the critic's score of fresh samples; returns G's loss."""
    optimizer_G.zero_grad()
    critic.requires_grad_(False)  # the critic's gradients from this step would go unused
    loss_G = -critic(G(minigan.randn(batch, nz, 1, 1, device=device))).mean()
    loss_G.backward()
    critic.requires_grad_(True)
    optimizer_G.step()
    return loss_G


def main(argv=None):
    parser = gan_arguments(__doc__.splitlines()[0], epochs=5, batch_size=64, lr=2e-4, beta1=0.5, beta2=0.9)
    parser.add_argument("--n-critic", type=int, default=5, help="critic updates per generator update")
    parser.add_argument("--lambda-gp", type=float, default=10.0, help="weight of the gradient penalty")
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    if args.n_critic < 1 or args.lambda_gp < 0:
        parser.error("--n-critic must be ≥ 1 and --lambda-gp ≥ 0")
    minigan.manual_seed(args.seed)
    device = example_device(args)

    images = load_images(args)
    resolve_epochs(args, len(images), 2)  # as long as 2 epochs of full MNIST: ~10 minutes on 2 CPU cores
    channels = images.shape[1]
    G = Generator(args.nz, args.ngf, channels, args.image_size).to(device)
    critic = Discriminator(args.ndf, channels, args.image_size,
                           norm=lambda width: nn.InstanceNorm2d(width, affine=True), sigmoid=False).to(device)
    G.apply(weights_init), critic.apply(weights_init)
    ema = moving_average(args, G)  # with --ema: the samples come from G's averaged weights
    G, critic = data_parallel(args, G, critic)
    optimizer_C = minigan.optim.Adam(critic.parameters(), lr=args.lr, betas=(args.beta1, args.beta2))
    optimizer_G = minigan.optim.Adam(G.parameters(), lr=args.lr, betas=(args.beta1, args.beta2))

    return train_wgan("wgan_gp", args, G, critic, optimizer_G, ema, images, device,
                      lambda real: critic_step(G, critic, optimizer_C, real, args.nz, args.lambda_gp),
                      optimizers={"G": optimizer_G, "critic": optimizer_C})


def train_wgan(name, args, G, critic, optimizer_G, ema, images, device, update_critic, optimizers):
    """The WGAN loop both WGAN examples run: `update_critic(real)` every step (it returns the
    losses to log), G every n_critic steps (and its moving average, with --ema); samples from
    fixed noise, digit scores, checkpoints of G, the critic and the average."""
    sampler = G if ema is None else ema.model
    fixed_noise = minigan.randn(64, args.nz, 1, 1, device=device)
    run = TrainingRun(name, args, models={"G": G, "critic": critic, **({} if ema is None else {"G_ema": ema.model})},
                      optimizers=optimizers)

    @minigan.no_grad()
    def samples():
        return sampler(fixed_noise)

    run.set_sampler(samples)
    if args.dataset == "mnist":
        run.set_digit_scores(lambda n: sampler(minigan.randn(n, args.nz, 1, 1, device=device)), images)
    loss_G = None
    for _, _, indices in run.batches(len(images)):
        real = minigan.tensor(images[indices], device=device)
        losses = update_critic(real)
        if run.step % args.n_critic == args.n_critic - 1:  # the generator, every n_critic steps
            loss_G = generator_step(G, critic, optimizer_G, real.shape[0], args.nz, device)
            if ema is not None:
                ema.update(G)
        if loss_G is not None:
            losses["G"] = loss_G
        run.log(losses)
    return run.finish()


if __name__ == "__main__":
    run_main(main)
