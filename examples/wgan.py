"""The original WGAN on minigan (Arjovsky, Chintala and Bottou, 2017): a critic kept Lipschitz by
clipping its weights.

    python examples/wgan.py [--n-critic 5] [--clip-value 0.01] [--lr 5e-5] [--max-steps N] [--ema 0.999]

The DCGAN shapes; the critic is DCGAN's discriminator without the Sigmoid (BatchNorm kept, as in
the paper's DCGAN critic). Both networks train with RMSprop(5e-5), the paper's choice (momentum
made Adam unstable there). Each step updates the critic on one batch, to raise its score of real
images and lower that of fakes, then clamps every critic weight into [-c, c] through
`p.data.clamp_(-c, c)`, as the reference code does; every `--n-critic` steps G is updated once.
"""
import minigan
from dcgan import Discriminator, Generator, gan_arguments, load_images, weights_init
from minigan.utils.training import (TrainingRun, check_arguments, data_parallel, example_device, moving_average,
                                    resolve_epochs)
from wgan_gp import generator_step


def critic_step(G, critic, optimizer_C, real, nz, clip_value):
    """Score real high and fake low, then clip the critic's weights; returns the losses."""
    optimizer_C.zero_grad()
    fake = G(minigan.randn(real.shape[0], nz, 1, 1, device=real.device)).detach()
    score_real, score_fake = critic(real).mean(), critic(fake).mean()
    loss_C = score_fake - score_real
    loss_C.backward()
    optimizer_C.step()
    for p in critic.parameters():
        p.data.clamp_(-clip_value, clip_value)
    return {"critic": loss_C, "wasserstein": score_real - score_fake}


def main(argv=None):
    parser = gan_arguments(__doc__.splitlines()[0], epochs=5, batch_size=64, lr=5e-5)
    parser.add_argument("--n-critic", type=int, default=5, help="critic updates per generator update")
    parser.add_argument("--clip-value", type=float, default=0.01, help="the critic's weights stay in [-c, c]")
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    if args.n_critic < 1 or not args.clip_value > 0:
        parser.error("--n-critic must be ≥ 1 and --clip-value > 0")
    minigan.manual_seed(args.seed)
    device = example_device(args)

    images = load_images(args)
    resolve_epochs(args, len(images), 2)
    channels = images.shape[1]
    G = Generator(args.nz, args.ngf, channels, args.image_size).to(device)
    critic = Discriminator(args.ndf, channels, args.image_size, sigmoid=False).to(device)
    G.apply(weights_init), critic.apply(weights_init)
    ema = moving_average(args, G)  # with --ema: the samples come from G's averaged weights
    sampler = G if ema is None else ema.model
    G, critic = data_parallel(args, G, critic)
    optimizer_C = minigan.optim.RMSprop(critic.parameters(), lr=args.lr)
    optimizer_G = minigan.optim.RMSprop(G.parameters(), lr=args.lr)
    fixed_noise = minigan.randn(64, args.nz, 1, 1, device=device)

    run = TrainingRun("wgan", args, models={"G": G, "critic": critic, **({} if ema is None else {"G_ema": ema.model})},
                      optimizers={"G": optimizer_G, "critic": optimizer_C})

    @minigan.no_grad()
    def samples():
        return sampler(fixed_noise)

    run.set_sampler(samples)
    if args.dataset == "mnist":
        run.set_digit_scores(lambda n: sampler(minigan.randn(n, args.nz, 1, 1, device=device)), images)
    loss_G = None
    for _, _, indices in run.batches(len(images)):
        real = minigan.tensor(images[indices], device=device)
        losses = critic_step(G, critic, optimizer_C, real, args.nz, args.clip_value)
        if run.step % args.n_critic == args.n_critic - 1:  # the generator, every n_critic steps
            loss_G = generator_step(G, critic, optimizer_G, real.shape[0], args.nz, device)
            if ema is not None:
                ema.update(G)
        if loss_G is not None:
            losses["G"] = loss_G
        run.log(losses)
    return run.finish()


if __name__ == "__main__":
    main()
