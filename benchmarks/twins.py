"""The benchmarked seed GANs: each example's models in minigan, their torch twins, and one training step.

A seed is built once in minigan from the example's own builders (examples/ is put on sys.path);
its torch twin is translated layer by layer from the minigan model and loaded with minigan's
initial state_dict, so both start from the same weights. The training step each example runs is
written here once, against the API minigan shares with torch (`lib` is the `minigan` or the
`torch` module), so both libraries do the same work on the same inputs:

    pair = make_pair("dcgan32", "cpu")          # {"minigan": Seed, "torch": Seed}
    inputs = draw_inputs(pair["minigan"].spec, numpy.random.default_rng(0))
    run_step(pair["torch"], inputs_as(torch, inputs, "cpu"))

Inputs (real images, noise, interpolation weights) are drawn beforehand as numpy arrays: the
examples draw noise inside the step, but a shared draw keeps the data identical and the random
number generators out of the comparison. Real images are uniform in [-1, 1], the range the
examples scale their data to, so no dataset needs to be downloaded; noise is Gaussian for every
model (the default MLP GAN draws uniform noise: the cost of a step does not depend on it).
"""
import dataclasses
import os
import sys

import numpy
import torch

import minigan

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)
import dcgan  # noqa: E402
import mnist_mlp  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Spec:
    """One benchmarked model: how to build it and what one "step" of its example does."""
    name: str
    batch: int
    noise_shape: tuple      # one noise sample, e.g. (96,) or (100, 1, 1)
    image_shape: tuple      # one real sample, e.g. (784,) or (1, 32, 32)
    lr: float
    betas: tuple
    build: object           # () -> (G, D) in minigan, initialised as the example does
    step: object            # (lib, seed, inputs) -> None: one full training step
    critic_updates: int = 1  # D (critic) updates per G update: real batches per step


@dataclasses.dataclass
class Seed:
    """A spec's models and optimizers in one library."""
    spec: Spec
    lib: object  # the minigan or torch module
    G: object
    D: object
    optimizer_G: object
    optimizer_D: object


# --------------------------------------------------------------------------------------------
# The steps, as the examples run them
# --------------------------------------------------------------------------------------------
def logits_step(lib, seed, inputs):
    """examples/mnist_mlp.py `logits_step`: D on real and fake with BCE-with-logits, then G."""
    F = lib.nn.functional
    real, = inputs["real"]
    batch, device = real.shape[0], real.device
    labels = lib.cat([lib.full((batch, 1), 1.0, device=device), lib.zeros(batch, 1, device=device)])
    seed.optimizer_D.zero_grad()
    fake = seed.G(inputs["noise_D"][0]).detach()
    loss_D = F.binary_cross_entropy_with_logits(seed.D(lib.cat([real, fake])), labels, reduction="sum") / batch
    loss_D.backward()
    seed.optimizer_D.step()

    seed.optimizer_G.zero_grad()
    seed.D.requires_grad_(False)
    loss_G = F.binary_cross_entropy_with_logits(seed.D(seed.G(inputs["noise_G"])), lib.ones(batch, 1, device=device))
    loss_G.backward()
    seed.D.requires_grad_(True)
    seed.optimizer_G.step()


def probability_step(lib, seed, inputs):
    """examples/mnist_mlp.py `probability_step`: G first, then D on the same fakes, detached."""
    F = lib.nn.functional
    real, = inputs["real"]
    valid = lib.ones(real.shape[0], 1, device=real.device)
    fake_label = lib.zeros(real.shape[0], 1, device=real.device)
    seed.optimizer_G.zero_grad()
    fake = seed.G(inputs["noise_G"])
    loss_G = F.binary_cross_entropy(seed.D(fake), valid)
    loss_G.backward()
    seed.optimizer_G.step()

    seed.optimizer_D.zero_grad()
    loss_D = (F.binary_cross_entropy(seed.D(real), valid)
              + F.binary_cross_entropy(seed.D(fake.detach()), fake_label)) / 2
    loss_D.backward()
    seed.optimizer_D.step()


def dcgan_step(lib, seed, inputs):
    """examples/dcgan.py `train_step`: D on real, then on fake (two backwards), then G on the same fake."""
    criterion = lib.nn.BCELoss()
    real, = inputs["real"]
    real_label = lib.ones(real.shape[0], device=real.device)
    fake_label = lib.zeros(real.shape[0], device=real.device)
    seed.optimizer_D.zero_grad()
    criterion(seed.D(real), real_label).backward()
    fake = seed.G(inputs["noise_D"][0])
    criterion(seed.D(fake.detach()), fake_label).backward()
    seed.optimizer_D.step()

    seed.optimizer_G.zero_grad()
    seed.D.requires_grad_(False)
    criterion(seed.D(fake), real_label).backward()
    seed.D.requires_grad_(True)
    seed.optimizer_G.step()


LAMBDA_GP = 10.0


def gradient_penalty(lib, critic, real, fake, alpha):
    """examples/wgan_gp.py `gradient_penalty`, with the interpolation weights `alpha` given."""
    batch = real.shape[0]
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = critic(interpolates)
    (gradients,) = lib.autograd.grad(scores, interpolates, grad_outputs=lib.ones_like(scores), create_graph=True)
    return ((gradients.reshape(batch, -1).norm(2, dim=1) - 1) ** 2).mean()


def wgan_gp_step(lib, seed, inputs):
    """examples/wgan_gp.py over n_critic batches: `critic_step` (with the gradient penalty) on each,
    then one `generator_step`."""
    critic = seed.D
    for real, noise, alpha in zip(inputs["real"], inputs["noise_D"], inputs["alpha"]):
        seed.optimizer_D.zero_grad()
        fake = seed.G(noise).detach()
        score_real, score_fake = critic(real).mean(), critic(fake).mean()
        penalty = gradient_penalty(lib, critic, real, fake, alpha)
        loss_C = score_fake - score_real + LAMBDA_GP * penalty
        loss_C.backward()
        seed.optimizer_D.step()

    seed.optimizer_G.zero_grad()
    critic.requires_grad_(False)
    loss_G = -critic(seed.G(inputs["noise_G"])).mean()
    loss_G.backward()
    critic.requires_grad_(True)
    seed.optimizer_G.step()


# --------------------------------------------------------------------------------------------
# The seeds
# --------------------------------------------------------------------------------------------
def build_dcgan(ngf, ndf, channels, image_size, critic=False):
    """examples/dcgan.py's G and D (or examples/wgan_gp.py's critic), with the source's init."""
    G = dcgan.Generator(100, ngf, channels, image_size)
    if critic:
        D = dcgan.Discriminator(ndf, channels, image_size,
                                norm=lambda width: minigan.nn.InstanceNorm2d(width, affine=True), sigmoid=False)
    else:
        D = dcgan.Discriminator(ndf, channels, image_size)
    G.apply(dcgan.weights_init), D.apply(dcgan.weights_init)
    return G, D


SPECS = {spec.name: spec for spec in [
    Spec("mlp", 128, (96,), (784,), 5e-4, (0.5, 0.999), mnist_mlp.build_default, logits_step),
    Spec("mlp_bn", 64, (100,), (784,), 2e-4, (0.5, 0.999), mnist_mlp.build_bn, probability_step),
    Spec("dcgan32", 64, (100, 1, 1), (1, 32, 32), 2e-4, (0.5, 0.999),
         lambda: build_dcgan(32, 32, 1, 32), dcgan_step),
    Spec("dcgan64", 64, (100, 1, 1), (3, 64, 64), 2e-4, (0.5, 0.999),
         lambda: build_dcgan(64, 64, 3, 64), dcgan_step),
    Spec("wgan_gp32", 64, (100, 1, 1), (1, 32, 32), 2e-4, (0.5, 0.9),
         lambda: build_dcgan(32, 32, 1, 32, critic=True), wgan_gp_step, critic_updates=5),
]}

DESCRIPTIONS = {
    "mlp": "MNIST MLP GAN",
    "mlp_bn": "BatchNorm MLP GAN",
    "dcgan32": "DCGAN 32x32x1, ngf=ndf=32",
    "dcgan64": "DCGAN 64x64x3, ngf=ndf=64",
    "wgan_gp32": "WGAN-GP 32x32x1, 5 critic + 1 G updates",
}


# --------------------------------------------------------------------------------------------
# Torch twins: the minigan model translated layer by layer
# --------------------------------------------------------------------------------------------
def torch_layer(layer):
    """The torch.nn layer with the same class name and settings as the minigan `layer`."""
    kind = type(layer).__name__
    torch_class = getattr(torch.nn, kind)
    if kind == "Linear":
        return torch_class(layer.in_features, layer.out_features, bias=layer.bias is not None)
    if kind == "Conv2d":
        return torch_class(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
                           bias=layer.bias is not None)
    if kind == "ConvTranspose2d":
        return torch_class(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
                           layer.output_padding, bias=layer.bias is not None)
    if kind in ("BatchNorm1d", "BatchNorm2d", "InstanceNorm2d"):
        return torch_class(layer.num_features, layer.eps, layer.momentum, layer.affine, layer.track_running_stats)
    if kind == "LeakyReLU":
        return torch_class(layer.negative_slope, layer.inplace)
    if kind == "ReLU":
        return torch_class(layer.inplace)
    if kind in ("Tanh", "Sigmoid"):
        return torch_class()
    raise TypeError(f"torch_layer: no torch twin for minigan layer {kind}")


def torch_sequential(sequential):
    return torch.nn.Sequential(*[torch_layer(layer) for layer in sequential])


class TorchGenerator(torch.nn.Module):
    """examples/dcgan.py's Generator in torch: its `main` layers."""

    def __init__(self, model):
        super().__init__()
        self.main = torch_sequential(model.main)

    def forward(self, z):
        return self.main(z)


class TorchDiscriminator(TorchGenerator):
    """examples/dcgan.py's Discriminator in torch: its `main` layers, one score per image."""

    def forward(self, x):
        return self.main(x).reshape(-1)


def torch_twin(model):
    """A torch model of the same architecture as the minigan `model`, with its current weights."""
    kind = type(model).__name__
    twins = {"Sequential": torch_sequential, "Generator": TorchGenerator, "Discriminator": TorchDiscriminator}
    if kind not in twins:
        raise TypeError(f"torch_twin: no torch twin for minigan model {kind}")
    twin = twins[kind](model)
    twin.load_state_dict({name: torch.from_numpy(numpy.array(tensor.array))
                          for name, tensor in model.state_dict().items()})
    return twin


# --------------------------------------------------------------------------------------------
# Pairs, inputs, steps
# --------------------------------------------------------------------------------------------
def make_seed(spec, lib, G, D):
    optimizer = lambda model: lib.optim.Adam(model.parameters(), lr=spec.lr, betas=spec.betas)  # noqa: E731
    return Seed(spec, lib, G, D, optimizer(G), optimizer(D))


def make_pair(name, device, libraries=("minigan", "torch"), seed=0):
    """The spec `name` built in minigan (seeded) and, where asked, its torch twin from the same weights."""
    spec = SPECS[name]
    minigan.manual_seed(seed)
    G, D = spec.build()
    pair = {}
    if "torch" in libraries:  # translated before minigan moves to the device: weights are read on the host
        pair["torch"] = make_seed(spec, torch, torch_twin(G).to(device), torch_twin(D).to(device))
    if "minigan" in libraries:
        pair["minigan"] = make_seed(spec, minigan, G.to(device), D.to(device))
    return pair


def draw_inputs(spec, rng, batch=None):
    """One step's inputs as float32 numpy arrays: a real batch and a noise batch per D update,
    a noise batch for G, and WGAN-GP's per-example interpolation weights."""
    batch = batch or spec.batch
    draw = lambda *shape: rng.standard_normal((batch,) + shape, dtype=numpy.float32)  # noqa: E731
    updates = range(spec.critic_updates)
    inputs = {"real": [rng.uniform(-1, 1, (batch,) + spec.image_shape).astype(numpy.float32) for _ in updates],
              "noise_D": [draw(*spec.noise_shape) for _ in updates],
              "noise_G": draw(*spec.noise_shape)}
    if spec.step is wgan_gp_step:
        inputs["alpha"] = [rng.uniform(0, 1, (batch, 1, 1, 1)).astype(numpy.float32) for _ in updates]
    return inputs


def inputs_as(lib, inputs, device):
    """The same inputs as tensors of `lib` on `device`."""
    convert = lambda array: lib.tensor(array, device=device)  # noqa: E731
    return {key: [convert(a) for a in value] if isinstance(value, list) else convert(value)
            for key, value in inputs.items()}


def run_step(seed, inputs):
    """One full training step of `seed` (D update(s) then G update, in its example's order)."""
    seed.spec.step(seed.lib, seed, inputs)
