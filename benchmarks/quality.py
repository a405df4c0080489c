"""Sample quality of the MNIST MLP GAN trained by minigan and by torch, as digit FID over seeds.

    python benchmarks/quality.py [--steps 1000] [--seeds 3] [--first-seed 0] [--data-dir DIR] [--threads 2]

For each seed, the minigan model and its torch twin (benchmarks/twins.py) start from the same
initial weights and train `--steps` steps of examples/mnist_mlp.py's step on the same real
batches (one shuffled order of the data per seed) and the same uniform noise. Then each draws
`--samples` digits from one fixed noise batch, scored with minigan.metrics against as many real
digits: digit FID (lower is better) and how many of the ten digits appear.

Target (issue 6): minigan's mean digit FID lies within the spread (min to max over the seeds) of
torch's. The report is printed as Markdown and appended to `--results`.
"""
import argparse
import os
import sys

import numpy
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import minigan  # noqa: E402
from minigan import metrics  # noqa: E402
from minigan.data import load_mnist, scale_images  # noqa: E402
from run import RESULTS, markdown_table, record  # noqa: E402
from timing import limit_threads  # noqa: E402
from twins import SPECS, inputs_as, make_pair, run_step  # noqa: E402

LIBRARIES = ("minigan", "torch")


def uniform(rng, *shape):
    return rng.uniform(-1, 1, shape).astype(numpy.float32)  # the example's noise


def train_and_score(seed, images, args):
    """{library: digit scores} after `args.steps` steps of the pair made from `seed`."""
    spec = SPECS["mlp"]
    pair = make_pair("mlp", "cpu", seed=seed)
    rng = numpy.random.default_rng(seed)
    order, position = rng.permutation(len(images)), 0
    for _ in range(args.steps):
        if position + spec.batch > len(order):
            order, position = rng.permutation(len(images)), 0
        batch = images[order[position:position + spec.batch]]
        position += spec.batch
        inputs = {"real": [batch], "noise_D": [uniform(rng, spec.batch, 96)], "noise_G": uniform(rng, spec.batch, 96)}
        for library in LIBRARIES:
            run_step(pair[library], inputs_as(minigan if library == "minigan" else torch, inputs, "cpu"))
    noise = uniform(rng, args.samples, 96)
    real = images[rng.permutation(len(images))[:args.samples]]
    with minigan.no_grad(), torch.no_grad():
        generated = {"minigan": pair["minigan"].G(minigan.tensor(noise)).numpy(),
                     "torch": pair["torch"].G(torch.from_numpy(noise)).numpy()}
    return {library: metrics.digit_scores(generated[library], real) for library in LIBRARIES}


def report(scores, args):
    """The table of digit FID per seed and library, the spread, and the target's verdict."""
    fids = {library: [s[library]["digit_fid"] for s in scores] for library in LIBRARIES}
    covered = {library: [s[library]["classes_covered"] for s in scores] for library in LIBRARIES}
    rows = [[library, *[f"{fid:.2f}" for fid in fids[library]], f"{numpy.mean(fids[library]):.2f}",
             f"{min(fids[library]):.2f} – {max(fids[library]):.2f}", f"{numpy.mean(covered[library]):.1f}"]
            for library in LIBRARIES]
    header = ["library", *[f"seed {seed}" for seed in range(args.first_seed, args.first_seed + args.seeds)], "mean",
              "spread", "digits covered"]
    mean = numpy.mean(fids["minigan"])
    met = min(fids["torch"]) <= mean <= max(fids["torch"])
    return ([f"MNIST MLP GAN, {args.steps} steps of batch {SPECS['mlp'].batch}, digit FID of {args.samples} samples "
             f"against as many real digits (minigan.metrics; lower is better).", ""]
            + markdown_table(header, rows)
            + ["", f"Target: minigan's mean digit FID ({mean:.2f}) within torch's spread "
                   f"({min(fids['torch']):.2f} – {max(fids['torch']):.2f}): {'met' if met else 'missed'}."])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="training steps per run")
    parser.add_argument("--seeds", type=int, default=3, help="runs per library")
    parser.add_argument("--first-seed", type=int, default=0, help="the seeds are first-seed, first-seed + 1, ...")
    parser.add_argument("--samples", type=int, default=1000, help="digits scored per run")
    parser.add_argument("--data-dir", default=None, help="folder with MNIST's IDX files")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for torch and numpy's BLAS")
    parser.add_argument("--results", default=RESULTS, help="the Markdown file the report is appended to")
    parser.add_argument("--note", default="", help="a line recorded with the report")
    args = parser.parse_args(argv)
    if min(args.steps, args.seeds, args.threads) < 1 or args.samples < 2:
        parser.error("--steps, --seeds and --threads must be ≥ 1, --samples ≥ 2")
    limit_threads(args.threads)
    images = scale_images(load_mnist(args.data_dir).images).reshape(-1, 784)
    scores = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        scores.append(train_and_score(seed, images, args))
        fids = ", ".join(f"{library} {scores[-1][library]['digit_fid']:.2f}" for library in LIBRARIES)
        print(f"seed {seed}: {fids}", flush=True)
    lines = report(scores, args)
    print("\n".join(lines))
    record(args.results, lines, args, script="benchmarks/quality.py")
    print(f"\n(appended to {args.results})")


if __name__ == "__main__":
    main()
