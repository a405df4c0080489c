"""Kernel launches per training step on the CUDA path, counted on the stand-in device, no GPU needed.

    python benchmarks/launches.py

On a GPU a small GAN step is bound by kernel launches, not FLOPs: each launch costs ~7-30 µs of
host time whatever its size. The stand-in device (minigan/testing/standin.py) runs the exact code
that runs on CuPy and counts what a GPU would do: every array-library call that writes memory is
one launch, a custom kernel's twin is one launch. Each model takes one warm-up step (the
optimizers make their state), then one counted step, as its example trains it:

    mnist_mlp_gan   examples/mnist_mlp.py, default arch, batch 128: one D step and one G step
    dcgan_32        examples/dcgan.py, 32x32, batch 64, ngf = ndf = 32: one D step and one G step
    wgan_gp_32      examples/wgan_gp.py, 32x32, batch 64, ngf = ndf = 32: 5 critic steps, 1 G step

Prints `<model>: <N> launches per step` and the host synchronisations (.item(), float(), copies
to the host: 0 keeps the GPU running ahead of Python) and host-to-device copies per step.
Target (issue 10): at most 80 launches for the MNIST MLP GAN step; torch eager launches 155.
"""
import os
import sys

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
import dcgan  # noqa: E402
import mnist_mlp  # noqa: E402
import wgan_gp  # noqa: E402

import minigan  # noqa: E402
from minigan import backend  # noqa: E402
from minigan.testing import standin  # noqa: E402
from minigan.testing.standin import counter  # noqa: E402

DEVICE = "cuda"


def host_images(shape):
    """A batch as the examples have it before each step: float32 on the host, in [-1, 1]."""
    return numpy.random.default_rng(0).uniform(-1, 1, shape).astype(numpy.float32)


def mnist_mlp_gan_step():
    config = mnist_mlp.ARCHS["default"]
    G, D = (minigan.nn.utils.fuse(model.to(DEVICE)) for model in mnist_mlp.build_default())  # as the example on a GPU
    optimizer_G = minigan.optim.Adam(G.parameters(), lr=config["lr"], betas=config["betas"])
    optimizer_D = minigan.optim.Adam(D.parameters(), lr=config["lr"], betas=config["betas"])
    batch, images = config["batch_size"], host_images((config["batch_size"], 784))

    def noise_fn():
        return mnist_mlp.noise("default", batch, config["noise_dim"], DEVICE)

    def step():
        real = minigan.tensor(images, device=DEVICE)
        mnist_mlp.logits_step(G, D, optimizer_G, optimizer_D, real, noise_fn, 1.0)
    return step


def dcgan_networks(ndf_norm, sigmoid, nz=100, width=32, size=32):
    G = dcgan.Generator(nz, width, 1, size).to(DEVICE)
    D = dcgan.Discriminator(width, 1, size, norm=ndf_norm, sigmoid=sigmoid).to(DEVICE)
    G.apply(dcgan.weights_init), D.apply(dcgan.weights_init)
    return G, D


def dcgan_step(batch=64, nz=100):
    G, D = dcgan_networks(minigan.nn.BatchNorm2d, sigmoid=True, nz=nz)
    optimizer_G = minigan.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizer_D = minigan.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    criterion, images = minigan.nn.BCELoss(), host_images((batch, 1, 32, 32))

    def step():
        real = minigan.tensor(images, device=DEVICE)
        dcgan.train_step(G, D, criterion, optimizer_G, optimizer_D, real, nz)
    return step


def wgan_gp_step(batch=64, nz=100, n_critic=5, lambda_gp=10.0):
    G, critic = dcgan_networks(lambda width: minigan.nn.InstanceNorm2d(width, affine=True), sigmoid=False, nz=nz)
    optimizer_G = minigan.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.9))
    optimizer_C = minigan.optim.Adam(critic.parameters(), lr=2e-4, betas=(0.5, 0.9))
    images = host_images((batch, 1, 32, 32))

    def step():
        for _ in range(n_critic):
            real = minigan.tensor(images, device=DEVICE)
            wgan_gp.critic_step(G, critic, optimizer_C, real, nz, lambda_gp)
        wgan_gp.generator_step(G, critic, optimizer_G, batch, nz, DEVICE)
    return step


MODELS = {"mnist_mlp_gan": mnist_mlp_gan_step, "dcgan_32": dcgan_step, "wgan_gp_32": wgan_gp_step}


def count(make_step):
    """(launches, host syncs, host-to-device copies) of one step, after a warm-up step."""
    step = make_step()
    step()
    counter.reset()
    step()
    return counter.launches, counter.syncs, counter.transfers


def main():
    minigan.manual_seed(0)
    with standin.use_for_cuda():
        for name, make_step in MODELS.items():
            launches, syncs, transfers = count(make_step)
            print(f"{name}: {launches} launches per step ({syncs} host syncs, {transfers} host-to-device copies)")


if __name__ == "__main__":
    main()
