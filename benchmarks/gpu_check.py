"""The first thing to run on a machine with a GPU: is `--backend cupy` right there, and how fast?

    python benchmarks/gpu_check.py [--steps 50] [--out gpu_check.md]     # on a GPU, a few minutes
    python benchmarks/gpu_check.py --standin --steps 3                   # the same, on the stand-in device

One command, one screen of summary. Each check runs on its own and reports PASS, FAIL (with its
error) or N/A (what it needs that this machine lacks); the script exits with status 1 if any failed:

1. environment   the GPU, CuPy and CUDA versions, and the CUDA libraries minigan needs
                 (`minigan.backend.missing_cuda_libraries`)
2. device tests  the device test files under pytest, 'cuda' being the real GPU
                 (MINIGAN_TEST_REAL_CUDA=1; the stand-in's launch counts are skipped there)
3. examples      mnist_mlp, dcgan and wgan_gp for `--steps` steps with `--backend cupy`, twice:
                 from a cold kernel cache (a fresh CUPY_CACHE_DIR), then warm
4. CPU vs GPU    one training step of the MNIST MLP GAN and of DCGAN from the same seed on both
                 devices (weights, real batch and noise drawn by minigan's Philox stream on each
                 device): every parameter's gradient to 1e-4 (relative to its largest). (Not the
                 parameters after the update: Adam's first step, g/(|g| + ε), turns a rounding
                 difference in a gradient near ε into a difference of up to lr in a weight.)
5. speed         `benchmarks/run.py --device cuda`: minigan against torch on the same GPU
6. sanitizer     `compute-sanitizer` on one DCGAN step, if the tool is installed

With `--standin`, 'cuda' is the stand-in device of the tests (minigan/testing/standin.py): the checks
that need real hardware (device tests on a GPU, kernel caches, torch on the GPU, the sanitizer) say
N/A, and the rest runs the CUDA code path on the CPU, as CI does.
"""
import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import numpy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "benchmarks"), os.path.join(ROOT, "examples")]
import minigan  # noqa: E402
from minigan import backend  # noqa: E402
from minigan.testing import standin  # noqa: E402

DEVICE_TESTS = ["tests/test_devices.py", "tests/test_kernels.py", "tests/test_functions.py", "tests/test_ops.py"]
EXAMPLES = ["mnist_mlp", "dcgan", "wgan_gp"]


class NotApplicable(Exception):
    """The check needs something this machine (or the stand-in) does not have."""


def environment(args):
    if args.standin:
        return "the stand-in device (numpy behind CuPy's rules); no GPU used"
    import cupy
    missing = backend.missing_cuda_libraries(cupy)
    if missing:
        raise RuntimeError("missing: " + "; ".join(missing))
    properties = cupy.cuda.runtime.getDeviceProperties(0)
    return (f"{properties['name'].decode()}, CuPy {cupy.__version__}, CUDA runtime "
            f"{cupy.cuda.runtime.runtimeGetVersion()}, driver {cupy.cuda.runtime.driverGetVersion()}, "
            f"{cupy.cuda.runtime.getDeviceCount()} GPU(s) visible")


def device_tests(args):
    if args.standin:
        raise NotApplicable("the stand-in runs these in CI already (python -m pytest)")
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", *DEVICE_TESTS], cwd=ROOT, capture_output=True,
                               text=True, env=dict(os.environ, MINIGAN_TEST_REAL_CUDA="1"))
    last = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else completed.stderr[-500:]
    if completed.returncode != 0:
        raise RuntimeError(last)
    return last


def examples(args):
    import importlib
    lines = []
    for name in EXAMPLES:
        for cache in (["cold", "warm"] if not args.standin else ["stand-in"]):
            with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                if cache == "cold":
                    os.environ["CUPY_CACHE_DIR"] = os.path.join(out, "kernel-cache")
                started = time.perf_counter()
                summary = importlib.import_module(name).main(
                    ["--backend", "cupy", "--max-steps", str(args.steps), "--out", out, "--log-every", "1000000",
                     "--batch-size", "16", *(["--data-dir", args.data_dir] if args.data_dir else [])])
                seconds = time.perf_counter() - started
            losses = summary["final_losses"]
            if not all(numpy.isfinite(value) for value in losses.values()):
                raise RuntimeError(f"{name} ({cache}): non-finite losses {losses}")
            lines.append(f"{name} {cache}: {summary['steps']} steps in {seconds:.1f} s")
    return "; ".join(lines)


def seeded_inputs(spec, device, batch):
    """One step's inputs drawn by minigan on `device` from seed 1: the same numbers on every device."""
    minigan.manual_seed(1)
    updates = range(spec.critic_updates)
    return {"real": [minigan.rand((batch,) + spec.image_shape, device=device) * 2 - 1 for _ in updates],
            "noise_D": [minigan.randn((batch,) + spec.noise_shape, device=device) for _ in updates],
            "noise_G": minigan.randn((batch,) + spec.noise_shape, device=device)}


def cpu_against_gpu(args):
    from twins import SPECS, make_pair, run_step
    lines = []
    for name in ("mlp", "dcgan32"):
        gradients = {}
        for device in ("cpu", "cuda"):
            seed = make_pair(name, device, libraries=("minigan",))["minigan"]  # weights from manual_seed(0)
            run_step(seed, seeded_inputs(SPECS[name], device, batch=16))
            gradients[device] = [backend.to_numpy(p.grad.array)
                                 for model in (seed.G, seed.D) for p in model.parameters()]
        worst = max(float(numpy.abs(c - g).max() / max(numpy.abs(c).max(), 1e-30))
                    for c, g in zip(gradients["cpu"], gradients["cuda"]))
        if not worst <= 1e-4:
            raise RuntimeError(f"{name}: the step's gradients differ by {worst:.2e} (relative)")
        lines.append(f"{name}: gradients' largest relative difference {worst:.1e}")
    return "; ".join(lines)


def speed(args):
    if args.standin:
        raise NotApplicable("torch on the stand-in device does not exist")
    completed = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), "--device", "cuda",
                                "--results", args.out + ".run.md"], capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-500:])
    rows = [line for line in completed.stdout.splitlines() if line.startswith("| ") and "ms/step" not in line]
    return "\n" + "\n".join(rows)


def sanitizer(args):
    tool = shutil.which("compute-sanitizer")
    if args.standin or tool is None:
        raise NotApplicable("compute-sanitizer is not installed" if tool is None else "no GPU to sanitize")
    command = [tool, "--error-exitcode", "1", sys.executable, os.path.join(ROOT, "examples", "dcgan.py"),
               "--backend", "cupy", "--max-steps", "1", "--out", tempfile.mkdtemp(), "--batch-size", "8"]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(completed.stdout[-500:] + completed.stderr[-500:])
    return "no errors"


CHECKS = [("environment", environment), ("device tests", device_tests), ("examples", examples),
          ("CPU vs GPU", cpu_against_gpu), ("speed", speed), ("sanitizer", sanitizer)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--standin", action="store_true", help="'cuda' is the stand-in device (no GPU needed)")
    parser.add_argument("--steps", type=int, default=50, help="steps of each example")
    parser.add_argument("--data-dir", default=None, help="MNIST's IDX files for the examples")
    parser.add_argument("--out", default="gpu_check.md", help="the summary, as Markdown")
    args = parser.parse_args(argv)
    results = []
    with standin.use_for_cuda() if args.standin else contextlib.nullcontext():
        for name, check in CHECKS:
            started = time.perf_counter()
            try:
                outcome, detail = "PASS", check(args)
            except NotApplicable as reason:
                outcome, detail = "N/A", str(reason)
            except Exception as error:  # a check that fails says why and the others still run
                outcome, detail = "FAIL", f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=3)}"
            results.append((name, outcome, time.perf_counter() - started, detail))
            print(f"{outcome:<4} {name} ({results[-1][2]:.0f} s): {detail}", flush=True)
    summary = "\n".join(f"- **{outcome}** {name} ({seconds:.0f} s): {detail}"
                        for name, outcome, seconds, detail in results)
    with open(args.out, "w") as stream:
        stream.write(f"# gpu_check ({'stand-in' if args.standin else 'GPU'})\n\n{summary}\n")
    return 1 if any(outcome == "FAIL" for _, outcome, _, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
