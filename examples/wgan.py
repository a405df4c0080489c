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
from minigan.utils.training import (check_arguments, data_parallel, example_device, moving_average, resolve_epochs,
                                    run_main)
from wgan_gp import train_wgan


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
    G, critic = data_parallel(args, G, critic)
    optimizer_C = minigan.optim.RMSprop(critic.parameters(), lr=args.lr)
    optimizer_G = minigan.optim.RMSprop(G.parameters(), lr=args.lr)
    return train_wgan("wgan", args, G, critic, optimizer_G, ema, images, device,
                      lambda real: critic_step(G, critic, optimizer_C, real, args.nz, args.clip_value),
                      optimizers={"G": optimizer_G, "critic": optimizer_C})


if __name__ == "__main__":
    run_main(main)
