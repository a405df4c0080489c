"""Run by tests/test_distributed.py under `mpiexec -n 2`: training steps of the MNIST MLP GAN and
of WGAN-GP on two ranks, each on its half of every batch, against one process on whole batches.

    mpiexec -n 2 python tests/distributed_worker.py {mlp|wgan_gp|dcgan} STEPS RESULT.json

dcgan converts both networks to SyncBatchNorm on the ranks; the one process keeps BatchNorm.

Every random draw (data, noise, the penalty's interpolation weights) is made for the whole global
batch from a seed that counts the draws, and each rank takes its rows, so both runs see the same
numbers. Rank 0 writes the largest relative difference between the two runs' parameters, and
whether the two ranks' parameters are bitwise equal, to RESULT.json.
"""
import json
import os
import sys

import numpy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "examples")]
import dcgan  # noqa: E402
import mnist_mlp  # noqa: E402
import wgan_gp  # noqa: E402

import minigan  # noqa: E402
import minigan.distributed as dist  # noqa: E402

BATCH = 4  # per rank


class Draws:
    """minigan.rand / randn whose numbers are the rows `part` of a global draw in `parts` parts."""

    def __init__(self, parts, part):
        self.parts, self.part, self.count = parts, part, 0

    def draw(self, kind, *shape, **options):
        self.count += 1
        rows = shape[0] * self.parts
        rng = numpy.random.default_rng(self.count)
        full = rng.standard_normal((rows,) + shape[1:]) if kind == "randn" else rng.random((rows,) + shape[1:])
        return minigan.tensor(full[self.part * shape[0]:(self.part + 1) * shape[0]])


def mlp_models():
    nn = minigan.nn
    G = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 784), nn.Tanh())
    D = nn.Sequential(nn.Linear(784, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    return G, D


class DenseGenerator(minigan.nn.Module):
    """noise (N, 8, 1, 1) -> images (N, 1, 32, 32), without the DCGAN generator's BatchNorm: batch
    statistics differ between a half batch and a whole one (SyncBatchNorm's business)."""

    def __init__(self):
        super().__init__()
        self.layers = minigan.nn.Sequential(minigan.nn.Linear(8, 64), minigan.nn.ReLU(), minigan.nn.Linear(64, 1024),
                                            minigan.nn.Tanh())

    def forward(self, noise):
        return self.layers(noise.reshape(noise.shape[0], -1)).reshape(-1, 1, 32, 32)


def wgan_models():
    critic = dcgan.Discriminator(4, 1, 32, norm=lambda width: minigan.nn.InstanceNorm2d(width, affine=True),
                                 sigmoid=False)
    critic.apply(dcgan.weights_init)
    return DenseGenerator(), critic


def dcgan_models():
    G, D = dcgan.Generator(8, 4, 1, 32), dcgan.Discriminator(4, 1, 32)
    G.apply(dcgan.weights_init), D.apply(dcgan.weights_init)
    return G, D


def train(scenario, steps, parallel):
    """The final parameters of `steps` steps, on this rank's part (parallel) or on whole batches."""
    parts, part = (dist.world_size(), dist.rank()) if parallel else (1, 0)
    draws = Draws(parts, part)
    minigan.rand = lambda *shape, **options: draws.draw("rand", *shape)  # noqa: E731 (the examples call these)
    minigan.randn = lambda *shape, **options: draws.draw("randn", *shape)  # noqa: E731
    minigan.manual_seed(0)
    G, D = {"mlp": mlp_models, "wgan_gp": wgan_models, "dcgan": dcgan_models}[scenario]()
    if parallel and scenario == "dcgan":
        G, D = dist.convert_sync_batchnorm(G), dist.convert_sync_batchnorm(D)
    models = (G, D)
    if parallel:
        G, D = dist.DistributedDataParallel(G), dist.DistributedDataParallel(D)
    batch = BATCH * dist.world_size() // parts
    optimizer_G = minigan.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.9))
    optimizer_D = minigan.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.9))
    for _ in range(steps):
        if scenario == "mlp":
            real = minigan.rand(batch, 784) * 2 - 1
            mnist_mlp.logits_step(G, D, optimizer_G, optimizer_D, real, lambda: minigan.rand(batch, 8) * 2 - 1, 1.0)
        elif scenario == "wgan_gp":
            real = minigan.rand(batch, 1, 32, 32) * 2 - 1
            wgan_gp.critic_step(G, D, optimizer_D, real, 8, 10.0)
            wgan_gp.generator_step(G, D, optimizer_G, batch, 8, "cpu")
        else:
            real = minigan.rand(batch, 1, 32, 32) * 2 - 1
            dcgan.train_step(G, D, minigan.nn.BCELoss(), optimizer_G, optimizer_D, real, 8)
    return [tensor.array.copy() for model in models for tensor in list(model.parameters()) + list(model.buffers())]


def main():
    scenario, steps, result = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    dist.init()
    minigan.set_default_dtype(minigan.float64)
    parallel = train(scenario, steps, parallel=True)
    everywhere = dist.gather_object(parallel)
    if dist.is_main():
        whole = train(scenario, steps, parallel=False)
        error = max(float(numpy.abs(a - b).max() / max(numpy.abs(b).max(), 1e-300)) for a, b in zip(parallel, whole))
        identical = all(numpy.array_equal(a, b) for a, b in zip(everywhere[0], everywhere[1]))
        with open(result, "w") as stream:
            json.dump({"relative_error": error, "ranks_identical": identical, "world_size": dist.world_size()}, stream)


if __name__ == "__main__":
    main()
