"""The stabilising tricks measured: each alone against the plain MNIST MLP GAN, over several seeds.

    python benchmarks/tricks.py [--data-dir ../shared/data/mnist-sample] [--epochs 26] [--seeds 3]
                                [--results benchmarks/RESULTS.md]

Every run is `examples/mnist_mlp.py` (CS231n's GAN, the default arch) for the same number of epochs
(26 on the 5,000-digit sample: 1,014 steps of 128) on the same data, with one flag added to the
baseline's command (schedules such as instance noise's annealing follow the run's epochs); each configuration runs once per
seed (the same seeds for all). The table gives the digit FID of 1,000 samples at the end (mean,
and the lowest and highest over the seeds; lower is better), the digits covered (mean), and the
time per step (median over the seeds). docs/TRICKS.md shows the table and what each trick changes.
"""
import argparse
import contextlib
import datetime
import io
import os
import platform
import shlex
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "examples"))
import mnist_mlp  # noqa: E402

CONFIGURATIONS = [  # (name, the flags added to the baseline's command)
    ("baseline", []),
    ("label smoothing 0.1", ["--label-smoothing", "0.1"]),
    ("label flip 0.05", ["--label-flip", "0.05"]),
    ("instance noise 0.1", ["--instance-noise", "0.1"]),
    ("D learning rate 1e-4 (G 5e-4)", ["--d-lr", "1e-4"]),
    ("2 D steps per G step", ["--d-steps", "2"]),
    ("gradient clipping 1.0", ["--clip-grad", "1.0"]),
    ("spectral norm in D", ["--spectral-norm"]),
    ("minibatch std in D", ["--minibatch-std"]),
    ("feature matching", ["--feature-matching"]),
    ("saturating G loss", ["--g-loss", "saturating"]),
    ("EMA of G 0.999", ["--ema", "0.999"]),
]


def run(flags, seed, epochs, data_dir):
    """One training run; its summary (digit FID, coverage, speed)."""
    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        argv = ["--epochs", str(epochs), "--seed", str(seed), "--out", out, "--log-every", str(10 ** 9),
                *(["--data-dir", data_dir] if data_dir else []), *flags]
        return mnist_mlp.main(argv)


def table(results, epochs, seeds):
    lines = ["| trick | flag | digit FID, mean | lowest – highest | digits covered | ms/step |",
             "|:--|:--|--:|--:|--:|--:|"]
    for (name, flags), summaries in results:
        fids = [summary["digit_fid"] for summary in summaries]
        covered = statistics.mean(summary["classes_covered"] for summary in summaries)
        ms = statistics.median(1000 / summary["steps_per_second"] for summary in summaries)
        steps = summaries[0]["steps"]
        lines.append(f"| {name} | `{' '.join(flags) or '—'}` | {statistics.mean(fids):.1f} | "
                     f"{min(fids):.1f} – {max(fids):.1f} | {covered:.1f} | {ms:.1f} |")
    return [f"MNIST MLP GAN (examples/mnist_mlp.py, default arch), {epochs} epochs ({steps} steps), seeds "
            f"0–{seeds - 1}; digit FID of 1,000 samples at the end (lower is better); ms/step is the run's wall "
            "time (its final scoring included) over its steps.", ""] + lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="MNIST's IDX files (default: the examples' own)")
    parser.add_argument("--epochs", type=int, default=26)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=None, help="names of configurations to run (default: all)")
    parser.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"))
    args = parser.parse_args(argv)
    chosen = [c for c in CONFIGURATIONS if args.only is None or c[0] in args.only]
    results = []
    for name, flags in chosen:
        summaries = [run(flags, seed, args.epochs, args.data_dir) for seed in range(args.seeds)]
        results.append(((name, flags), summaries))
        print(f"{name}: digit FID " + ", ".join(f"{s['digit_fid']:.1f}" for s in summaries), flush=True)
    report = table(results, args.epochs, args.seeds)
    print("\n".join(report))
    command = "python benchmarks/tricks.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    with open(args.results, "a") as stream:
        stream.write(f"\n## {datetime.datetime.now():%Y-%m-%d %H:%M}: `{command.strip()}`\n\n"
                     f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores.\n\n"
                     + "\n".join(report) + "\n")
    return results


if __name__ == "__main__":
    main()
