"""Data-parallel training on this machine: allreduce cost, and 2 ranks against 1 process.

    python benchmarks/distributed.py [--steps 10] [--models mlp dcgan32] [--results benchmarks/RESULTS.md]

1. The time of `allreduce_grads` (into the flat buffer, one allreduce, the average back into the
   gradients) for float32 gradients of a given size between 2 ranks: what DistributedDataParallel
   adds to each backward.
2. Training throughput, in images per second, of one process with 2 threads against 2 ranks with
   1 thread each (mpiexec -n 2), on the same global batch (the seed's batch: 1 process takes it
   all, each rank half) and the same 2 cores. Target (issue 11): 2 ranks deliver at least 0.9×.

The measurements run in subprocesses (this script with --worker), launched with the mpiexec of
the mpich wheel beside this Python (`pip install -e ".[mpi]"`). The report is printed as
Markdown and appended to --results.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")
SIZES = [10 ** 3, 10 ** 4, 10 ** 5, 10 ** 6, 10 ** 7]


# --------------------------------------------------------------------------------------------
# Workers, one per process
# --------------------------------------------------------------------------------------------
def allreduce_worker(args):
    import minigan
    import minigan.distributed as dist
    dist.init()
    timings = {}
    for size in SIZES:
        model = minigan.nn.Module()
        model.weight = minigan.nn.Parameter(minigan.zeros(size))
        model.weight.grad = minigan.ones(size)
        buffer, times = None, []
        for _ in range(args.steps + 2):
            dist.barrier()
            start = time.perf_counter()
            buffer = dist.allreduce_grads(model, buffer)
            times.append(time.perf_counter() - start)
        timings[size] = statistics.median(times[2:])
    if dist.is_main():
        print(json.dumps(timings))


def throughput_worker(args):
    import minigan.distributed as dist
    from run import step_functions  # the benchmark's own training steps (benchmarks/run.py)
    from timing import limit_threads
    from twins import SPECS

    dist.init()
    limit_threads(args.threads)
    batch = SPECS[args.model].batch // dist.world_size()  # the global batch, split over the ranks
    options = argparse.Namespace(device="cpu", batch=batch)

    def wrap(seed):  # each rank's models, their gradients averaged over the ranks after every backward
        seed.G, seed.D = dist.DistributedDataParallel(seed.G), dist.DistributedDataParallel(seed.D)
        return seed
    step = step_functions(args.model, options, ("minigan",), prepare=wrap)["minigan"]
    step()
    dist.barrier()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    dist.barrier()
    seconds = time.perf_counter() - start
    if dist.is_main():
        images = args.steps * batch * dist.world_size() * SPECS[args.model].critic_updates
        print(json.dumps({"images_per_second": images / seconds, "world_size": dist.world_size()}))


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------
def launch(ranks, *arguments):
    command = [sys.executable, os.path.abspath(__file__), *arguments]
    if ranks > 1:
        command = [MPIEXEC, "-n", str(ranks)] + command
    completed = subprocess.run(command, capture_output=True, text=True, check=False,
                               env=dict(os.environ, OMP_NUM_THREADS=arguments[arguments.index("--threads") + 1]
                                        if "--threads" in arguments else "1"))
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stdout}{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def report(args):
    from run import markdown_table
    from twins import DESCRIPTIONS

    timings = launch(2, "--worker", "allreduce", "--steps", str(args.steps))
    lines = ["allreduce_grads (copy in, allreduce, average out) of float32 gradients between 2 ranks, median:", ""]
    lines += markdown_table(["floats", "MB", "ms", "GB/s"],
                            [[f"{int(size):,}", f"{int(size) * 4 / 1e6:g}", f"{seconds * 1e3:.3f}",
                              f"{int(size) * 4 / seconds / 1e9:.2f}"] for size, seconds in timings.items()])
    rows = []
    for model in args.models:
        one = launch(1, "--worker", "throughput", "--model", model, "--threads", "2", "--steps", str(args.steps))
        two = launch(2, "--worker", "throughput", "--model", model, "--threads", "1", "--steps", str(args.steps))
        ratio = two["images_per_second"] / one["images_per_second"]
        rows.append([DESCRIPTIONS[model], f"{one['images_per_second']:.1f}", f"{two['images_per_second']:.1f}",
                     f"{ratio:.2f}", f"≥ 0.9×: {'met' if ratio >= 0.9 else 'missed'}"])
    lines += ["", f"Training throughput, images/s, {args.steps} steps after one warm-up, the seed's global batch:", ""]
    lines += markdown_table(["model", "1 process × 2 threads", "2 ranks × 1 thread", "ratio", "target"], rows)
    return lines


def main(argv=None):
    from twins import SPECS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--models", nargs="+", default=["mlp", "dcgan32"], choices=list(SPECS))
    parser.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"))
    parser.add_argument("--worker", choices=["allreduce", "throughput"], help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "allreduce":
        return allreduce_worker(args)
    if args.worker == "throughput":
        return throughput_worker(args)
    if not os.path.exists(MPIEXEC):
        parser.error(f'no mpiexec beside {sys.executable}: install the MPI extra, pip install -e ".[mpi]"')
    from run import record
    lines = report(args)
    print("\n".join(lines))
    args.threads, args.note = "1 per rank, 2 for the single process", ""
    record(args.results, lines, args, script="benchmarks/distributed.py")
    print(f"\n(appended to {args.results})")


if __name__ == "__main__":
    main()
