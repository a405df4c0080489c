"""The benchmark suite runs: benchmarks/run.py prints and records its comparison and its profile,
and the torch twins it compares against have minigan's architecture and weights.

Smoke tests only: no timing target is asserted here (speed is measured by the benchmarks)."""
import math
import os
import subprocess
import sys

import numpy
import pytest
from parity import torch

import minigan

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
sys.path.insert(0, BENCHMARKS)
import gemms  # noqa: E402
import run  # noqa: E402
import twins  # noqa: E402
from timing import limit_threads  # noqa: E402


def run_benchmark(results, *arguments):
    command = [sys.executable, os.path.join(BENCHMARKS, "run.py"), *arguments, "--threads", "1",
               "--results", str(results)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300,
                               env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def table(text, first_header):
    """The Markdown table whose header starts with `first_header`, as dicts of its cells."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} "))
    cells = lambda line: [cell.strip() for cell in line.strip().strip("|").split("|")]  # noqa: E731
    header, rows = cells(lines[start]), []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, cells(line))))
    return rows


def test_comparison_prints_each_models_times_memory_and_numeric_ratios_and_records_them(tmp_path):
    results = tmp_path / "RESULTS.md"
    output = run_benchmark(results, "--models", "mlp", "--steps", "1")
    (row,) = table(output, "model")
    assert row["model"] == twins.DESCRIPTIONS["mlp"] and row["batch"] == "128"
    for column in ("minigan ms/step", "torch ms/step", "its GEMMs alone, ms", "time ratio", "minigan peak MiB",
                   "torch peak MiB", "memory ratio"):
        assert math.isfinite(float(row[column])) and float(row[column]) > 0, (column, row[column])
    assert row["time target"].startswith("≤ 0.8×: ") and row["memory target"].startswith("≤ 1.0×: ")
    recorded = results.read_text()
    assert "Threads: 1 for each library" in recorded and f"| {twins.DESCRIPTIONS['mlp']} " in recorded


def test_profile_splits_a_step_by_op_forward_and_backward(tmp_path):
    output = run_benchmark(tmp_path / "RESULTS.md", "--profile", "--models", "mlp", "--steps", "1", "--batch", "4")
    forward, backward = table(output, "forward op"), table(output, "backward op")
    # 3 linear layers per pass; D sees real and fake in one pass
    assert float(next(row for row in forward if row["forward op"] == "LinearMap")["calls/step"]) == 12  # 2 G + 2 D
    assert float(next(row for row in backward if row["backward op"] == "LinearMap")["calls/step"]) == 9  # 1 G + 2 D
    shares = [float(row["share of step"].rstrip(" %")) for row in table(output, "where")]
    assert abs(sum(shares) - 100) < 1  # the summary accounts for the whole step


@pytest.mark.parametrize("name", list(twins.SPECS))
def test_torch_twins_have_minigans_architecture_and_initial_weights(name):
    pair = twins.make_pair(name, "cpu")
    inputs = twins.draw_inputs(twins.SPECS[name], numpy.random.default_rng(0), batch=2)
    ours, theirs = twins.inputs_as(minigan, inputs, "cpu"), twins.inputs_as(torch, inputs, "cpu")
    with minigan.no_grad(), torch.no_grad():
        for model, ours_in, theirs_in in (("G", ours["noise_G"], theirs["noise_G"]),
                                          ("D", ours["real"][0], theirs["real"][0])):
            expected = getattr(pair["torch"], model)(theirs_in).numpy()
            numpy.testing.assert_allclose(getattr(pair["minigan"], model)(ours_in).array, expected,
                                          rtol=1e-4, atol=1e-5, err_msg=f"{name} {model}")


def test_limit_threads_without_threadpoolctl_sets_torchs_threads_and_says_what_numpy_uses(monkeypatch, capsys):
    threads = torch.get_num_threads()
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # makes `import threadpoolctl` fail
    try:
        assert limit_threads(1) is None
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    assert "OPENBLAS_NUM_THREADS" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
def test_cuda_without_a_gpu_fails_with_a_clear_message(capsys):
    with pytest.raises(SystemExit):
        run.parse_arguments(["--device", "cuda"])
    assert "--device cuda: torch sees no GPU" in capsys.readouterr().err


def test_launches_prints_a_count_per_model_and_the_mlp_gan_step_stays_within_80_launches():
    completed = subprocess.run([sys.executable, os.path.join(BENCHMARKS, "launches.py")], capture_output=True,
                               text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert completed.returncode == 0, completed.stderr
    counts = {}
    for line in completed.stdout.splitlines():
        model, rest = line.split(": ", 1)
        launches, syncs = int(rest.split()[0]), int(rest.split("(")[1].split()[0])
        assert rest.startswith(f"{launches} launches per step (") and syncs == 0, line  # never waits for the GPU
        counts[model] = launches
    assert sorted(counts) == ["dcgan_32", "mnist_mlp_gan", "wgan_gp_32"]
    assert 0 < counts["mnist_mlp_gan"] <= 80  # issue 10's target: about half of torch eager's 155


def test_quality_trains_both_libraries_per_seed_and_reports_digit_fid_against_torchs_spread(tmp_path):
    from minigan.data import write_idx
    rng = numpy.random.default_rng(0)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (300, 28, 28), dtype=numpy.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, 300, dtype=numpy.uint8))
    results = tmp_path / "RESULTS.md"
    completed = subprocess.run([sys.executable, os.path.join(BENCHMARKS, "quality.py"), "--steps", "3", "--seeds", "2",
                                "--samples", "40", "--threads", "1", "--data-dir", str(tmp_path),
                                "--results", str(results)],
                               capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert completed.returncode == 0, completed.stderr
    rows = {row["library"]: row for row in table(completed.stdout, "library")}
    assert sorted(rows) == ["minigan", "torch"]
    for row in rows.values():
        fids = [float(row["seed 0"]), float(row["seed 1"])]
        assert all(math.isfinite(fid) and fid > 0 for fid in fids)
        assert float(row["mean"]) == pytest.approx(sum(fids) / 2, abs=0.01)
    # same weights, same batches: after 3 steps the two libraries' samples score alike
    assert float(rows["minigan"]["mean"]) == pytest.approx(float(rows["torch"]["mean"]), rel=1e-3)
    verdict = next(line for line in completed.stdout.splitlines() if line.startswith("Target:"))
    assert verdict.endswith(("met.", "missed.")) and "`python benchmarks/quality.py" in results.read_text()


@pytest.mark.skipif(not os.path.exists(os.path.join(os.path.dirname(sys.executable), "mpiexec")),
                    reason='needs the MPI extra: pip install -e ".[mpi]"')
def test_distributed_benchmark_prints_allreduce_times_and_the_two_rank_throughput_ratio(tmp_path):
    results = tmp_path / "RESULTS.md"
    completed = subprocess.run([sys.executable, os.path.join(BENCHMARKS, "distributed.py"), "--steps", "1",
                                "--models", "mlp", "--results", str(results)],
                               capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    sizes = table(completed.stdout, "floats")
    assert [row["floats"] for row in sizes] == ["1,000", "10,000", "100,000", "1,000,000", "10,000,000"]
    assert all(float(row["ms"]) > 0 for row in sizes)
    (row,) = table(completed.stdout, "model")
    ratio = float(row["ratio"])
    assert ratio == pytest.approx(float(row["2 ranks × 1 thread"]) / float(row["1 process × 2 threads"]), rel=0.01)
    assert row["target"] == f"≥ 0.9×: {'met' if ratio >= 0.9 else 'missed'}"
    assert "`python benchmarks/distributed.py" in results.read_text()


def test_the_gemms_of_a_step_are_read_from_its_tape_with_each_ops_shapes():
    x = minigan.randn(2, 3, 8, 8)
    conv = minigan.nn.Conv2d(3, 4, 4, stride=2, padding=1)  # (2, 3, 8, 8) -> (2, 4, 4, 4) -> (2, 5, 8, 8)
    deconv = minigan.nn.ConvTranspose2d(4, 5, 4, stride=2, padding=1)
    linear = minigan.nn.Linear(5 * 8 * 8, 6)

    def step():
        linear(deconv(conv(x)).reshape(2, -1)).sum().backward()
    products = gemms.step_products(step)
    # forward: conv (O, C·kh·kw) @ (C·kh·kw, Ho·Wo·N), deconv (Co·kh·kw, Ci) @ (Ci, H·W·N), linear x @ Wᵀ
    assert products[:3] == [((4, 48), (48, 32)), ((80, 4), (4, 32)), ((2, 320), (320, 6))]
    # backward: linear's dx and dW; deconv's input gradient (a conv) and its weight gradient, with dy and x
    # swapping roles; conv's weight gradient (x needs none)
    assert sorted(products[3:]) == sorted([((2, 6), (6, 320)), ((6, 2), (2, 320)), ((4, 80), (80, 32)),
                                           ((4, 32), (32, 80)), ((4, 32), (32, 48))])
    assert gemms.products_seconds(products, repeats=1) > 0


def test_the_first_gpu_script_runs_end_to_end_on_the_standin(mnist_fixture, tmp_path):
    import gpu_check
    summary = tmp_path / "gpu_check.md"
    assert gpu_check.main(["--standin", "--steps", "2", "--data-dir", mnist_fixture, "--out", str(summary)]) == 0
    text = summary.read_text()
    for check in ("environment", "examples", "CPU vs GPU"):
        assert f"**PASS** {check}" in text, text
    for check in ("device tests", "speed", "sanitizer"):  # they need a real GPU
        assert f"**N/A** {check}" in text, text
    assert "mnist_mlp stand-in: 2 steps" in text and "dcgan32: gradients' largest relative difference" in text
