"""The engine's own overhead: per op and per backward step on tiny arrays, and an MLP against torch.

    python benchmarks/engine.py [--threads 2]

Targets (issue 2): at most 10 µs added per op on tiny arrays; MLP 784-1024-1024-784 at batch 128,
forward + backward, within 1.1x of torch at the same thread count.
"""
import argparse
import os
import sys

import numpy
import torch

sys.path.insert(0, os.path.dirname(__file__))
import minigan  # noqa: E402
from timing import compare, limit_threads, print_table, time_call  # noqa: E402

CHAIN = 200  # ops per timed chain on tiny arrays


def tiny_op_rows():
    """Per-op cost of `x * 1.0001 + 0.5`-style chains: forward (recording a graph) and backward."""
    x_ours = minigan.tensor(numpy.ones(4, dtype=numpy.float32), requires_grad=True)
    x_theirs = torch.ones(4, requires_grad=True)
    raw = numpy.ones(4, dtype=numpy.float32)

    def chain(x):
        for _ in range(CHAIN):
            x = x * 1.0001
        return x.sum()

    def raw_chain():
        y = raw
        for _ in range(CHAIN):
            y = y * numpy.float32(1.0001)
        return y.sum()

    forward = compare(lambda: chain(x_ours), lambda: chain(x_theirs))
    numpy_only = min(time_call(raw_chain) for _ in range(20))
    backward = compare(lambda: chain(x_ours).backward(), lambda: chain(x_theirs).backward())
    per_op = lambda seconds: seconds / CHAIN  # noqa: E731
    rows = [("tiny op, forward (per op)", per_op(forward[0]), per_op(forward[1])),
            ("tiny op, forward + backward (per op)", per_op(backward[0]), per_op(backward[1]))]
    overhead = per_op(forward[0] - numpy_only)
    backward_step = per_op(backward[0] - forward[0])
    return rows, overhead, backward_step


def mlp_row(batch=128, sizes=(784, 1024, 1024, 784)):
    rng = numpy.random.default_rng(0)
    weights = [(rng.standard_normal((o, i)) / numpy.sqrt(i)).astype(numpy.float32) for i, o in zip(sizes, sizes[1:])]
    biases = [numpy.zeros(o, numpy.float32) for o in sizes[1:]]
    data = rng.standard_normal((batch, sizes[0])).astype(numpy.float32)

    def make(library):
        params = [library.tensor(a, requires_grad=True) for a in weights + biases]
        x = library.tensor(data)

        def step():
            h = x
            for layer, (w, b) in enumerate(zip(params[:len(weights)], params[len(weights):])):
                h = h @ w.mT + b
                h = h.relu() if layer < len(weights) - 1 else h.tanh()
            (h * h).mean().backward()
            for p in params:
                p.grad = None
        return step

    ours, theirs = compare(make(minigan), make(torch), repeats=15, pause=0.25)  # let idle BLAS threads settle
    return ("MLP 784-1024-1024-784, batch 128, fwd+bwd", ours, theirs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    limit_threads(args.threads)
    rows, overhead, backward_step = tiny_op_rows()
    rows.append(mlp_row())
    print_table(f"engine overhead ({args.threads} threads; times per op in µs, MLP in ms)",
                rows[:2], unit="µs", scale=1e6)
    print_table("", rows[2:])
    print(f"\nminigan adds {overhead * 1e6:.1f} µs per tiny op over plain numpy (target ≤ 10 µs); "
          f"a backward step costs {backward_step * 1e6:.1f} µs per op")


if __name__ == "__main__":
    main()
