"""One command: a full training step of each seed GAN in minigan against its torch twin, speed and memory.

    python benchmarks/run.py [--device cpu|cuda] [--models mlp dcgan32 ...] [--steps N] [--threads T]
                             [--profile] [--results benchmarks/RESULTS.md] [--note TEXT]

Speed: both libraries run the same step (D update(s) then G update, as the example does it) of
the same architecture, from the same initial weights, on the same inputs (benchmarks/twins.py),
in this process, taking turns step by step; warm-up steps are excluded and the medians of
`--steps` timed steps are reported, with the ratio minigan / torch (below 1: minigan is faster).
numpy's BLAS and torch get the same thread count. A pause before each timed step lets the other
library's idle worker threads stop spinning: without it, on 2 cores, OpenBLAS's spinning workers
made torch's DCGAN step twice as slow as torch alone, and torch's made minigan's slower.

Memory: each library's step runs in a fresh subprocess of its own. After the warm-up (so that the
optimizers' state exists), the peak resident memory is reset (Linux: /proc/self/clear_refs) and
read again after one step: the peak growth of resident memory above what was resident before the
step. It counts every allocation alike, numpy's and torch's. glibc's malloc is told to map every
block of 64 KiB or more on its own (MALLOC_MMAP_THRESHOLD_), so a freed array leaves resident
memory at once in both libraries and the peak is that of live data. On the GPU: the growth of
memory reserved by each library's caching allocator (CuPy's pool, torch's caching allocator).

Profile (`--profile`, instead of the comparison): where a minigan step spends its time, by op,
from `minigan.trace()`: forward (the op's call: forward and graph recording), backward (its
backward method, including the ops it is written with), the engine's sums of gradients and the
optimizers.

The table (or profile) is printed as Markdown and appended, with the machine, the thread count
and the date, to `--results`.
"""
import argparse
import collections
import datetime
import gc
import itertools
import json
import os
import platform
import shlex
import subprocess
import sys
import time

import numpy
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import minigan  # noqa: E402
from minigan import backend  # noqa: E402
from gemms import products_seconds, step_products  # noqa: E402
from timing import compare, limit_threads  # noqa: E402
from twins import DESCRIPTIONS, SPECS, draw_inputs, inputs_as, make_pair, run_step  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")
INPUT_SETS = 2  # distinct input batches the timed steps cycle through
PAUSE = 0.25    # seconds between timed steps, for the other library's spinning threads to go idle
# issue 18's CPU targets, minigan / torch: (time, peak memory of a step)
TARGETS = {"mlp": (0.8, 1.0), "mlp_bn": (1.0, 1.0), "dcgan32": (1.0, 1.5), "dcgan64": (1.0, 1.5),
           "wgan_gp32": (1.0, 1.5)}
MALLOC_MMAP_THRESHOLD = 64 * 1024
MEMORY_METHODS = {
    "cpu": "peak growth of resident memory (VmHWM after the step − VmRSS before it) in a fresh subprocess "
           f"per library, malloc mapping blocks ≥ {MALLOC_MMAP_THRESHOLD // 1024} KiB on their own",
    "cuda": "peak growth of memory reserved by the caching allocator (CuPy's pool, torch's), "
            "in a fresh subprocess per library",
}


# --------------------------------------------------------------------------------------------
# Steps to time
# --------------------------------------------------------------------------------------------
def synchronizer(lib, device):
    """A function that waits for the GPU work `lib` queued, so a timed step includes it."""
    if device != "cuda":
        return lambda: None
    if lib is torch:
        return torch.cuda.synchronize
    import cupy
    return cupy.cuda.get_current_stream().synchronize


def step_functions(name, args, libraries=("minigan", "torch"), prepare=None):
    """For each library, a function running one training step of the model `name` per call,
    cycling over the same few input batches; `prepare(seed)`, if given, adapts each library's
    models and optimizers first (benchmarks/distributed.py wraps them for data parallelism)."""
    pair = make_pair(name, args.device, libraries)
    if prepare is not None:
        pair = {library: prepare(seed) for library, seed in pair.items()}
    rng = numpy.random.default_rng(0)
    input_sets = [draw_inputs(SPECS[name], rng, args.batch) for _ in range(INPUT_SETS)]

    def step_function(seed):
        inputs = itertools.cycle([inputs_as(seed.lib, raw, args.device) for raw in input_sets])
        synchronize = synchronizer(seed.lib, args.device)

        def step():
            run_step(seed, next(inputs))
            synchronize()
        return step
    return {library: step_function(seed) for library, seed in pair.items()}


# --------------------------------------------------------------------------------------------
# Peak memory, one subprocess per library
# --------------------------------------------------------------------------------------------
def proc_status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def peak_rss_growth(step):
    """Bytes of peak resident memory during `step` above the resident memory before it (Linux)."""
    baseline = proc_status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # resets the peak (VmHWM) to the current resident size
    step()
    return (proc_status_kib("VmHWM") - baseline) * 1024


def peak_reserved_growth(step, library):
    """Bytes the GPU caching allocator of `library` reserves during `step` beyond what it held."""
    if library == "torch":
        torch.cuda.empty_cache()
        baseline = torch.cuda.memory_reserved()
        torch.cuda.reset_peak_memory_stats()
        step()
        return torch.cuda.max_memory_reserved() - baseline
    import cupy
    pool = cupy.get_default_memory_pool()
    pool.free_all_blocks()
    baseline = pool.total_bytes()
    step()
    return pool.total_bytes() - baseline  # the pool keeps what it reserved, so this is its peak


def memory_worker(args):
    """In the subprocess: warm up one library's step, then print its peak memory growth as JSON."""
    name, library = args.memory_worker
    limit_threads(args.threads)
    step = step_functions(name, args, (library,))[library]
    for _ in range(max(args.warmup, 1)):
        step()
    gc.collect()
    if args.device == "cuda":
        peak = peak_reserved_growth(step, library)
    else:
        peak = peak_rss_growth(step) if os.path.exists("/proc/self/clear_refs") else None
    print(json.dumps({"peak_bytes": peak}))


def measure_memory(name, library, args):
    """Peak memory growth of one step of `name` in `library`, in bytes (None where unmeasurable)."""
    command = [sys.executable, os.path.abspath(__file__), "--memory-worker", name, library, "--device", args.device,
               "--threads", str(args.threads), "--warmup", str(args.warmup)]
    if args.batch:
        command += ["--batch", str(args.batch)]
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(MALLOC_MMAP_THRESHOLD), OPENBLAS_NUM_THREADS=str(args.threads))
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"the memory measurement of {name} in {library} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])["peak_bytes"]


# --------------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------------
def compare_model(name, args):
    steps = step_functions(name, args)
    minigan_seconds, torch_seconds = compare(steps["minigan"], steps["torch"], repeats=args.steps,
                                              warmup=args.warmup, pause=PAUSE)
    gemm_seconds = None
    if args.device == "cpu":
        time.sleep(PAUSE)
        gemm_seconds = products_seconds(step_products(steps["minigan"]), repeats=args.steps)
    del steps
    gc.collect()
    memory = {library: measure_memory(name, library, args) for library in ("minigan", "torch")}
    return name, minigan_seconds, torch_seconds, gemm_seconds, memory["minigan"], memory["torch"]


def target_cell(ratio, target):
    if target is None:
        return "—"
    if ratio is None:
        return f"≤ {target:.1f}× (unmeasured)"
    return f"≤ {target:.1f}×: {'met' if ratio <= target else 'missed'}"


def mebibytes(size):
    return "n/a" if size is None else f"{size / 2 ** 20:.1f}"


def comparison_report(results, args):
    header = ["model", "batch", "minigan ms/step", "torch ms/step", "its GEMMs alone, ms", "time ratio", "time target",
              "minigan peak MiB", "torch peak MiB", "memory ratio", "memory target"]
    rows = []
    for name, minigan_seconds, torch_seconds, gemm_seconds, minigan_bytes, torch_bytes in results:
        time_ratio = minigan_seconds / torch_seconds
        memory_ratio = minigan_bytes / torch_bytes if minigan_bytes and torch_bytes else None
        time_target, memory_target = TARGETS.get(name, (None, None))
        rows.append([DESCRIPTIONS[name], args.batch or SPECS[name].batch,
                     f"{minigan_seconds * 1e3:.1f}", f"{torch_seconds * 1e3:.1f}",
                     "n/a" if gemm_seconds is None else f"{gemm_seconds * 1e3:.1f}",
                     f"{time_ratio:.2f}", target_cell(time_ratio, time_target),
                     mebibytes(minigan_bytes), mebibytes(torch_bytes),
                     "n/a" if memory_ratio is None else f"{memory_ratio:.2f}",
                     target_cell(memory_ratio, memory_target)])
    return ([f"Training step, float32, {args.device}: medians of {args.steps} alternating timed steps after "
             f"{args.warmup} warm-up step(s), {PAUSE} s pause before each. Ratios are minigan / torch. "
             "\"Its GEMMs alone\": the matrix products of minigan's step, the same shapes run by numpy and "
             "nothing else (benchmarks/gemms.py), what the step would cost if all else were free.", ""]
            + markdown_table(header, rows)
            + ["", f"Memory: {MEMORY_METHODS[args.device]}."])


# --------------------------------------------------------------------------------------------
# The profile
# --------------------------------------------------------------------------------------------
def profile_model(name, args):
    """Where a minigan step spends its time, from `minigan.trace()` over `args.steps` steps."""
    step = step_functions(name, args, ("minigan",))["minigan"]
    for _ in range(args.warmup):
        step()
    with minigan.trace() as tape:
        for _ in range(args.steps):
            step()
    return profile_report(name, args.batch or SPECS[name].batch, tape, args.steps)


_PHASES = {"forward": "forward ops (Function.__call__)",
           "backward": "backward ops (Function.backward, the ops inside each included)",
           "sum": "the engine's sums of gradients reaching one node from several consumers",
           "optimizer": "optimizers (step)",
           "gc": "Python's garbage collector"}


def profile_report(name, batch, tape, steps):
    step_seconds = tape.seconds / steps
    by_phase = collections.defaultdict(dict)
    for (phase, op), (calls, seconds) in tape.totals().items():
        by_phase[phase][op] = (calls / steps, seconds / steps)

    def share(part_seconds):
        return f"{100 * part_seconds / step_seconds:.1f} %"

    phase_seconds = {phase: sum(seconds for _, seconds in ops.values()) for phase, ops in by_phase.items()}
    summary = [(where, phase_seconds.get(phase, 0.0)) for phase, where in _PHASES.items()]
    summary.append(("between ops (engine walk, storing .grad, module calls, Python)",
                    step_seconds - sum(phase_seconds.values())))
    lines = [f"### {DESCRIPTIONS[name]}, batch {batch}: minigan, {step_seconds * 1e3:.1f} ms per traced step "
             f"(mean of {steps}; includes the tracer's own cost)", ""]
    lines += markdown_table(["where", "ms/step", "share of step"],
                            [[where, f"{part * 1e3:.2f}", share(part)] for where, part in summary])
    for phase, kind in (("forward", "forward op"), ("backward", "backward op"), ("sum", "engine sum"),
                        ("optimizer", "optimizer"), ("gc", "garbage collection")):
        rows = [[op, f"{calls:g}", f"{seconds * 1e3:.2f}", share(seconds)]
                for op, (calls, seconds) in by_phase[phase].items()]
        if rows:
            lines += [""] + markdown_table([kind, "calls/step", "ms/step", "share of step"], rows)
    return lines + [""]


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------
def markdown_table(header, rows):
    """Lines of a Markdown table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]

    def line(cells):
        aligned = [str(cell).ljust(width) if i == 0 else str(cell).rjust(width)
                   for i, (cell, width) in enumerate(zip(cells, widths))]
        return "| " + " | ".join(aligned) + " |"
    rule = [":" + "-" * (width + 1) if i == 0 else "-" * (width + 1) + ":" for i, width in enumerate(widths)]
    return [line(header), "|" + "|".join(rule) + "|"] + [line(row) for row in rows]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine():
    if torch.cuda.is_available():
        device = f", GPU {torch.cuda.get_device_name()}"
    else:
        device = ""
    return (f"{cpu_model()} ({os.cpu_count()} logical cores){device}; {platform.platform()}; "
            f"Python {platform.python_version()}, numpy {numpy.__version__}, torch {torch.__version__}")


def command_line(argv, script="benchmarks/run.py"):
    """The command that reproduces a report: `argv` less --note, --results and their values."""
    kept, skip_value = [], False
    for argument in argv:
        if skip_value:
            skip_value = False
        elif argument in ("--note", "--results"):
            skip_value = True
        elif not argument.startswith(("--note=", "--results=")):
            kept.append(argument)
    return shlex.join(["python", script] + kept)


def record(path, lines, args, script="benchmarks/run.py"):
    """Append the report to the results file, under the date, the command, machine and threads."""
    heading = [f"## {datetime.datetime.now():%Y-%m-%d %H:%M}: `{command_line(sys.argv[1:], script)}`",
               "", f"Machine: {machine()}. Threads: {args.threads} for each library."]
    if args.note:
        heading.append(f"Note: {args.note}")
    new_file = not os.path.exists(path)
    with open(path, "a") as results:
        if new_file:
            results.write("# minigan against torch: benchmark results\n\nAppended by `python benchmarks/run.py`.\n\n")
        results.write("\n".join(heading + [""] + lines) + "\n\n")


# --------------------------------------------------------------------------------------------
def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--models", nargs="+", default=list(SPECS), choices=list(SPECS), metavar="MODEL",
                        help=f"some of: {' '.join(SPECS)} (default: all)")
    parser.add_argument("--steps", type=int, default=10, help="timed (or profiled) steps per library")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for torch and numpy's BLAS")
    parser.add_argument("--batch", type=int, default=None, help="one batch size for every model (default: each seed's)")
    parser.add_argument("--profile", action="store_true", help="profile minigan's step by op instead of comparing")
    parser.add_argument("--results", default=RESULTS, help="the Markdown file the report is appended to")
    parser.add_argument("--note", default="", help="a line recorded with the report (the machine's load, say)")
    parser.add_argument("--memory-worker", nargs=2, metavar=("MODEL", "LIBRARY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.threads < 1 or (args.batch is not None and args.batch < 1):
        parser.error("--steps, --threads and --batch must be ≥ 1, --warmup ≥ 0")
    if args.device == "cuda":
        if args.profile:
            parser.error("--profile times the CPU: on the GPU ops run asynchronously, use a GPU profiler")
        if not torch.cuda.is_available():
            parser.error("--device cuda: torch sees no GPU here (torch.cuda.is_available() is False)")
        try:
            backend.check_device("cuda")
        except ValueError as error:
            parser.error(f"--device cuda: minigan cannot use the GPU here: {error}")
    return args


def main(argv=None):
    args = parse_arguments(argv)
    if args.memory_worker:
        return memory_worker(args)
    limit_threads(args.threads)
    if args.profile:
        lines = [f"Profile of minigan's training step by op, {args.threads} thread(s).", ""]
        for name in args.models:
            lines += profile_model(name, args)
    else:
        lines = comparison_report([compare_model(name, args) for name in args.models], args)
    print("\n".join(lines))
    record(args.results, lines, args)
    print(f"\n(appended to {args.results})")


if __name__ == "__main__":
    main()
