"""Crash safety of a training run: SIGKILL at random moments (many of them in the middle of a
checkpoint write) never leaves a checkpoint that cannot be read, and the run resumed after the
kills ends with exactly the parameters of a run never interrupted. Ctrl-C stops after the step
with a checkpoint and says how to resume; a corrupt newest checkpoint is skipped for the one before.

Each run is examples/mnist_mlp.py in a subprocess on 96 made-up digits (the mnist_fixture), 12 steps of batch 16,
checkpointing after every step (about 26 MB each, so a good part of the run is spent writing)."""
import glob
import os
import signal
import subprocess
import sys
import time

import numpy
import pytest

import minigan

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILL_POINTS = int(os.environ.get("MINIGAN_KILL_POINTS", 10))  # more for a longer local run


def command(data_dir, out, resume=False):
    return ([sys.executable, os.path.join(ROOT, "examples", "mnist_mlp.py"), "--data-dir", data_dir, "--out", str(out),
             "--batch-size", "16", "--epochs", "2", "--checkpoint-every", "1", "--log-every", "100"]
            + (["--resume"] if resume else []))


def start(data_dir, out, resume=False):
    environment = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT, MPLBACKEND="Agg")
    return subprocess.Popen(command(data_dir, out, resume), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=environment)


def checkpoints(out):
    return sorted(glob.glob(os.path.join(str(out), "checkpoint-*.npz")))


def final_parameters(out):
    state = minigan.load(checkpoints(out)[-1])
    assert state["step"] == 12
    return {f"{model}.{key}": value.numpy() for model, sd in state["models"].items() for key, value in sd.items()}


def run_to_the_end(data_dir, out, resume):
    process = start(data_dir, out, resume)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    return output


def kill_during_a_write_or_at_random(process, out, rng):
    """SIGKILL `process` as soon as a checkpoint is being written (half the time) or after a random
    delay; returns how it was killed, or None if it finished first."""
    waiting_for_a_write = bool(rng.random() < 0.5)
    deadline = time.monotonic() + (60 if waiting_for_a_write else rng.uniform(0.5, 3.5))
    while process.poll() is None and time.monotonic() < deadline:
        if waiting_for_a_write and glob.glob(os.path.join(str(out), ".checkpoint-*.part")):
            break
        time.sleep(0.001)
    if process.poll() is not None:
        return None
    process.kill()
    process.wait()
    return "during a write" if waiting_for_a_write else "at a random moment"


def test_sigkill_at_random_points_loses_nothing_and_the_resumed_run_equals_an_uninterrupted_one(mnist_fixture, tmp_path):
    run_to_the_end(mnist_fixture, tmp_path / "whole", resume=False)
    rng = numpy.random.default_rng(0)
    out, kills = tmp_path / "killed", []
    for _ in range(KILL_POINTS):
        kills.append(kill_during_a_write_or_at_random(start(mnist_fixture, out, resume=bool(checkpoints(out))), out, rng))
        for path in checkpoints(out):  # every checkpoint under its final name is complete
            assert minigan.load(path)["example"] == "mnist_mlp", path
    run_to_the_end(mnist_fixture, out, resume=bool(checkpoints(out)))
    assert kills.count("during a write") >= 2, kills  # the test did hit checkpoint writes
    print(f"kill points: {kills.count('during a write')} during a checkpoint write, "
          f"{kills.count('at a random moment')} at random moments, {kills.count(None)} runs finished first")
    assert not glob.glob(os.path.join(str(out), ".checkpoint-*.part"))  # the last start cleared the leftovers
    whole, resumed = final_parameters(tmp_path / "whole"), final_parameters(out)
    for key in whole:
        numpy.testing.assert_array_equal(resumed[key], whole[key], err_msg=key)


def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(mnist_fixture, tmp_path):
    out = tmp_path / "interrupted"
    process = start(mnist_fixture, out)
    while not checkpoints(out) and process.poll() is None:  # training has begun
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    assert "Traceback" not in output
    saved = output.split("interrupted after step ")[1]
    step = int(saved.split(":")[0])
    assert minigan.load(checkpoints(out)[-1])["step"] == step < 12
    assert "resume with: " in output and output.rstrip().endswith("--resume")
    run_to_the_end(mnist_fixture, out, resume=True)
    assert final_parameters(out).keys()


def test_a_corrupt_newest_checkpoint_is_reported_and_the_one_before_is_used(mnist_fixture, tmp_path):
    whole = tmp_path / "whole"
    run_to_the_end(mnist_fixture, whole, resume=False)
    out = tmp_path / "corrupt"
    process = start(mnist_fixture, out)
    while len(checkpoints(out)) < 3 and process.poll() is None:
        time.sleep(0.005)
    process.kill()
    process.wait()
    newest = checkpoints(out)[-1]
    with open(newest, "r+b") as file:  # cut it short, as a full disk might
        file.truncate(os.path.getsize(newest) // 2)
    output = run_to_the_end(mnist_fixture, out, resume=True)
    assert f"warning: skipping unreadable checkpoint {newest}" in output
    for key, value in final_parameters(whole).items():
        numpy.testing.assert_array_equal(final_parameters(out)[key], value, err_msg=key)
