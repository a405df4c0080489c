"""DCGAN on minigan, as the PyTorch DCGAN example builds and trains it.

    python examples/dcgan.py [--image-size 32|64] [--ngf 32] [--ndf 32] [--dataset mnist|cifar10] [--max-steps N]
                             [--spectral-norm] [--ema 0.999] [the tricks of examples/gan_tricks.py: --label-smoothing S,
                             --label-flip P, --instance-noise SIGMA, --d-lr, --d-steps K, --clip-grad NORM,
                             --minibatch-std, --feature-matching]

G: ConvTranspose2d(nz, ngf·2^k, 4, 1, 0), then stride-2 ConvTranspose2d(4, 2, 1) blocks with
BatchNorm2d and ReLU, ending in Tanh. D: stride-2 Conv2d(4, 2, 1) blocks with LeakyReLU(0.2) and
BatchNorm2d on all but the first, then Conv2d(…, 1, 4, 1, 0) and Sigmoid. No biases; weights
N(0, 0.02), BatchNorm weights N(1, 0.02); BCELoss; Adam(2e-4, betas (0.5, 0.999)); nz 100; batch 64.
`--image-size 64 --ngf 64 --ndf 64` is the source's network exactly; the default 32×32 network with
ngf = ndf = 32 is sized for a CPU. `--spectral-norm` makes D SNGAN's (Miyato et al., 2018): every
conv wrapped in nn.utils.spectral_norm, and no BatchNorm in D, whose Lipschitz constant the
spectral norms then bound.
"""
import minigan
import minigan.nn as nn
import gan_tricks
from minigan.data import load_cifar10, load_mnist, resize_images, scale_images
from minigan.utils.training import (TrainingRun, check_arguments, data_parallel, example_arguments, example_device,
                                    moving_average, resolve_epochs, run_main)


def blocks_for(image_size):
    """How many stride-2 blocks lead from 4×4 to the image size (3 for 32, 4 for 64)."""
    blocks = {32: 3, 64: 4}.get(image_size)
    if blocks is None:
        raise ValueError(f"--image-size must be 32 or 64, got {image_size}")
    return blocks


class Generator(nn.Module):
    def __init__(self, nz, ngf, channels, image_size):
        super().__init__()
        widths = [ngf * 2 ** i for i in reversed(range(blocks_for(image_size)))]  # e.g. 8·ngf … ngf
        layers = [nn.ConvTranspose2d(nz, widths[0], 4, 1, 0, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for wide, narrow in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(wide, narrow, 4, 2, 1, bias=False), nn.BatchNorm2d(narrow), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self, ndf, channels, image_size, norm=nn.BatchNorm2d, sigmoid=True, minibatch_std=False):
        super().__init__()
        widths = [ndf * 2 ** i for i in range(blocks_for(image_size))]  # ndf … 8·ndf
        layers = [nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        for narrow, wide in zip(widths, widths[1:]):
            layers += [nn.Conv2d(narrow, wide, 4, 2, 1, bias=False), norm(wide), nn.LeakyReLU(0.2, inplace=True)]
        last = nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)
        layers = gan_tricks.with_minibatch_std(layers, last) if minibatch_std else layers + [last]
        self.last = len(layers) - 1  # the position of the last convolution
        if sigmoid:
            layers.append(nn.Sigmoid())
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        return self.main(x).reshape(-1)

    def features(self, x):
        """What D's last convolution reads (--feature-matching compares them)."""
        return self.main[:self.last](x)


def spectrally_normalized(D):
    """D with every conv under spectral_norm (weight -> weight_orig, weight_u, weight_v)."""
    for module in D.modules():
        if isinstance(module, nn.Conv2d):
            nn.utils.spectral_norm(module)
    return D


def weights_init(module):
    """The source's initialisation: conv weights N(0, 0.02), norm weights N(1, 0.02), biases 0."""
    name = type(module).__name__
    if "Conv" in name:
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif "Norm" in name and getattr(module, "weight", None) is not None:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.constant_(module.bias, 0)


def load_images(args):
    """Training images as float32 (N, C, size, size) in [-1, 1], resized once, vectorised."""
    if args.dataset == "cifar10":
        images = scale_images(load_cifar10(args.data_dir).images)
    else:
        images = scale_images(load_mnist(args.data_dir).images)[:, None]
    return images if images.shape[-1] == args.image_size else resize_images(images, args.image_size)


def gan_arguments(description, **defaults):
    """The DCGAN-shaped examples' flags (wgan_gp.py shares them)."""
    parser = example_arguments(description, **defaults)
    parser.add_argument("--image-size", type=int, default=32, choices=[32, 64])
    parser.add_argument("--ngf", type=int, default=32, help="generator width")
    parser.add_argument("--ndf", type=int, default=32, help="discriminator width")
    parser.add_argument("--nz", type=int, default=100, help="noise size")
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "cifar10"])
    parser.add_argument("--beta1", type=float, default=defaults.get("beta1", 0.5))
    parser.add_argument("--beta2", type=float, default=defaults.get("beta2", 0.999))
    return parser


def train_step(G, D, criterion, optimizer_G, optimizer_D, real, nz, options=None, progress=0.0, features=None):
    """One D update on real and fake images, then one G update through D; returns the losses.
    `options` (the parsed flags; default: none) switches on the tricks of examples/gan_tricks.py,
    `progress` is the fraction of the run done, `features` D's `features` (--feature-matching)."""
    options = options or gan_tricks.NONE
    batch, device = real.shape[0], real.device

    # (1) update D: maximise log D(x) + log(1 - D(G(z)))
    for _ in range(options.d_steps):
        labels = gan_tricks.targets(batch, 1.0, options, device)
        real_label, fake_label = labels[:batch].reshape(-1), labels[batch:].reshape(-1)
        optimizer_D.zero_grad()
        output_real = D(gan_tricks.noisy(real, options, progress))
        loss_D_real = criterion(output_real, real_label)
        loss_D_real.backward()
        fake = G(minigan.randn(batch, nz, 1, 1, device=device))
        output_fake = D(gan_tricks.noisy(fake.detach(), options, progress))
        loss_D_fake = criterion(output_fake, fake_label)
        loss_D_fake.backward()
        gan_tricks.clip(D, options)
        optimizer_D.step()

    # (2) update G: maximise log D(G(z))
    optimizer_G.zero_grad()
    D.requires_grad_(False)  # D's gradients from this step would go unused (the next D step zeroes them)
    if options.feature_matching:  # ‖mean f(real) − mean f(fake)‖²
        loss_G = gan_tricks.feature_matching_loss(features, real, fake)
    else:
        loss_G = criterion(D(fake), minigan.ones(batch, device=device))
    loss_G.backward()
    D.requires_grad_(True)
    gan_tricks.clip(G, options)
    optimizer_G.step()
    return {"Loss_D": loss_D_real + loss_D_fake, "Loss_G": loss_G, "D(x)": output_real.mean(),
            "D(G(z))": output_fake.mean()}


def main(argv=None):
    parser = gan_arguments(__doc__.splitlines()[0], epochs=5, batch_size=64, lr=2e-4)
    parser.add_argument("--spectral-norm", action="store_true",
                        help="SNGAN's discriminator: spectral_norm on every conv, no BatchNorm")
    gan_tricks.add_arguments(parser, spectral_norm=False)
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    gan_tricks.check_arguments(parser, args)
    minigan.manual_seed(args.seed)
    device = example_device(args)

    images = load_images(args)
    resolve_epochs(args, len(images), 2)  # as long as 2 epochs of full MNIST: ~10 minutes on 2 CPU cores
    channels = images.shape[1]
    G = Generator(args.nz, args.ngf, channels, args.image_size).to(device)
    norm = (lambda width: nn.Identity()) if args.spectral_norm else nn.BatchNorm2d
    D = Discriminator(args.ndf, channels, args.image_size, norm=norm, minibatch_std=args.minibatch_std).to(device)
    features = D.features  # D's own method, also when data_parallel wraps D below
    G.apply(weights_init), D.apply(weights_init)
    if args.spectral_norm:
        spectrally_normalized(D)
    ema = moving_average(args, G)  # with --ema: the samples come from G's averaged weights
    sampler = G if ema is None else ema.model
    G, D = data_parallel(args, G, D)
    criterion = nn.BCELoss()
    optimizer_D = minigan.optim.Adam(D.parameters(), lr=args.d_lr or args.lr, betas=(args.beta1, args.beta2))
    optimizer_G = minigan.optim.Adam(G.parameters(), lr=args.lr, betas=(args.beta1, args.beta2))
    fixed_noise = minigan.randn(64, args.nz, 1, 1, device=device)

    run = TrainingRun("dcgan", args, models={"G": G, "D": D, **({} if ema is None else {"G_ema": ema.model})},
                      optimizers={"G": optimizer_G, "D": optimizer_D})

    @minigan.no_grad()
    def samples():  # G stays in training mode, as in the source
        return sampler(fixed_noise)

    run.set_sampler(samples)
    if args.dataset == "mnist":
        run.set_digit_scores(lambda n: sampler(minigan.randn(n, args.nz, 1, 1, device=device)), images)
    for _, _, indices in run.batches(len(images)):
        real = minigan.tensor(images[indices], device=device)
        losses = train_step(G, D, criterion, optimizer_G, optimizer_D, real, args.nz, args, run.step / run.total_steps,
                            features)
        if ema is not None:
            ema.update(G)
        run.log(losses)
    return run.finish()


if __name__ == "__main__":
    run_main(main)
