"""Data-parallel training over MPI, with 2 ranks of the mpich wheel's mpiexec on this machine:
2 ranks on batch B train exactly as 1 process on batch 2B (float64, the MNIST MLP GAN, WGAN-GP
with its penalty, DCGAN with SyncBatchNorm), the ranks' parameters stay bitwise equal, each rank
gets a disjoint part of each batch, the examples run, resume on 1 or 2 ranks, and a rank that
dies or fails stops the whole run, named."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy
import pytest

import minigan
import minigan.distributed as dist

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")
ENVIRONMENT = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT, MPLBACKEND="Agg")
needs_mpi = pytest.mark.skipif(not os.path.exists(MPIEXEC), reason='needs the MPI extra: pip install -e ".[mpi]"')


def mpiexec(ranks, *arguments, timeout=180):
    return subprocess.run([MPIEXEC, "-n", str(ranks), sys.executable, *arguments], capture_output=True, text=True,
                          timeout=timeout, env=ENVIRONMENT)


def worker(scenario, steps, tmp_path):
    result = tmp_path / f"{scenario}.json"
    completed = mpiexec(2, os.path.join(ROOT, "tests", "distributed_worker.py"), scenario, str(steps), str(result))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return json.loads(result.read_text())


@needs_mpi
@pytest.mark.parametrize("scenario", ["mlp", "wgan_gp", "dcgan"])
def test_two_ranks_on_half_batches_train_exactly_as_one_process_on_whole_batches(scenario, tmp_path):
    result = worker(scenario, 5, tmp_path)
    assert result["world_size"] == 2
    assert result["relative_error"] <= 1e-10, result


@needs_mpi
def test_the_two_ranks_parameters_are_bitwise_equal_after_20_steps(tmp_path):
    assert worker("mlp", 20, tmp_path)["ranks_identical"]


def test_each_rank_gets_a_disjoint_part_of_each_batch_and_together_they_cover_the_epoch(monkeypatch):
    order = numpy.random.default_rng(0).permutation(24)
    parts = []
    monkeypatch.setattr(dist, "world_size", lambda: 3)
    for rank in range(3):
        monkeypatch.setattr(dist, "rank", lambda rank=rank: rank)
        parts.append(numpy.concatenate([dist.shard(order[start:start + 6]) for start in range(0, 24, 6)]))
    assert all(len(part) == 8 for part in parts)
    assert sorted(numpy.concatenate(parts)) == list(range(24))  # each example once per epoch


def test_distributed_without_the_extra_stops_naming_it(monkeypatch, tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    import mnist_mlp
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # as if it were not installed
    monkeypatch.setattr(dist, "_comm", None)
    with pytest.raises(dist.DistributedUnavailableError, match=r'needs mpi4py.*pip install -e "\.\[mpi\]"'):
        mnist_mlp.main(["--distributed", "--out", str(tmp_path)])


def example(data_dir, out, *extra):
    return [os.path.join(ROOT, "examples", "mnist_mlp.py"), "--distributed", "--data-dir", data_dir, "--out", str(out),
            "--batch-size", "8", "--epochs", "2", "--log-every", "100", *extra]


@needs_mpi
def test_the_example_trains_on_two_ranks_and_resumes_on_one_and_on_two(mnist_fixture, tmp_path):
    completed = mpiexec(2, *example(mnist_fixture, tmp_path, "--max-steps", "4"))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 4 and summary["images_per_second"] > 0
    assert completed.stdout.count("wrote ") == len(summary["files"]) + 1  # rank 0 alone reports its files
    one = subprocess.run([sys.executable, *example(mnist_fixture, tmp_path, "--max-steps", "5", "--resume")],
                         capture_output=True, text=True, timeout=180, env=ENVIRONMENT)
    assert one.returncode == 0, one.stdout + one.stderr
    assert json.loads((tmp_path / "summary.json").read_text())["world_size"] == 1
    two = mpiexec(2, *example(mnist_fixture, tmp_path, "--max-steps", "6", "--resume"))
    assert two.returncode == 0, two.stdout + two.stderr
    assert json.loads((tmp_path / "summary.json").read_text())["steps"] == 6


@needs_mpi
def test_a_killed_rank_stops_every_rank_within_30_seconds_and_is_named(mnist_fixture, tmp_path):
    process = subprocess.Popen([MPIEXEC, "-n", "2", sys.executable, *example(mnist_fixture, tmp_path, "--epochs", "200")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENVIRONMENT)
    announcement = process.stdout.readline()  # "minigan.distributed: 2 ranks; rank 0: pid ...; rank 1: pid ..."
    rank_1_pid = int(announcement.split("rank 1: pid ")[1].split()[0])
    time.sleep(2)  # training under way
    os.kill(rank_1_pid, signal.SIGKILL)
    started = time.monotonic()
    output, _ = process.communicate(timeout=60)
    assert time.monotonic() - started < 30 and process.returncode != 0
    assert f"PID {rank_1_pid}" in output  # mpiexec names the dead process, the announcement its rank


@needs_mpi
def test_an_error_on_one_rank_stops_every_rank_and_says_which(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text("import minigan.distributed as dist\n"
                      "rank, _ = dist.init()\n"
                      "if rank == 1:\n"
                      "    raise ValueError('a bad batch')\n"
                      "dist.barrier()  # rank 0 would wait here for ever\n")
    started = time.monotonic()
    completed = mpiexec(2, str(script), timeout=60)
    assert time.monotonic() - started < 30 and completed.returncode != 0
    assert "rank 1 of 2 failed (ValueError: a bad batch); stopping every rank" in completed.stderr


@needs_mpi
def test_ctrl_c_stops_every_rank_after_one_checkpoint_and_says_how_to_resume(mnist_fixture, tmp_path):
    process = subprocess.Popen([MPIEXEC, "-n", "2", sys.executable, *example(mnist_fixture, tmp_path, "--epochs", "200")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENVIRONMENT)
    process.stdout.readline()  # the ranks are up
    time.sleep(3)
    process.send_signal(signal.SIGINT)  # mpiexec passes it to every rank
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    step = int(output.split("interrupted after step ")[1].split(":")[0])
    assert output.count("interrupted after step") == 1 and "resume with: mpiexec -n 2 " in output
    assert minigan.load(str(tmp_path / f"checkpoint-{step:08d}.npz"))["step"] == step


@pytest.mark.parametrize("local_rank, visible, device", [(3, 1, 0), (3, 2, 1), (1, 4, 1), (0, 1, 0)])
def test_each_rank_takes_its_local_rank_modulo_the_visible_gpus(local_rank, visible, device, monkeypatch):
    """Slurm's --gpus-per-task=1 shows each rank one GPU, numbered 0: Device(local_rank) would fail."""
    monkeypatch.setattr(dist, "local_rank", lambda: local_rank)
    assert dist.local_device(visible) == device
