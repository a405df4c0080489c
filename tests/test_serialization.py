"""Checkpoints: minigan.save / minigan.load round trips, atomic writes, and refusal of bad files."""
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan
import minigan.nn as nn
from minigan import serialization
from minigan.optim import Adam
from minigan.serialization import CheckpointError, load, save


def assert_same(loaded, original, where="obj"):
    """Equal structure, types, dtypes and values (nan equals nan; -0.0 keeps its sign)."""
    assert type(loaded) is type(original), f"{where}: {type(loaded).__name__} != {type(original).__name__}"
    if isinstance(original, minigan.Tensor):
        assert not loaded.requires_grad and loaded.grad_fn is None
        assert_same(loaded.array, original.array, where)
    elif isinstance(original, (numpy.ndarray, numpy.generic)):
        assert loaded.dtype == original.dtype and loaded.shape == original.shape, where
        numpy.testing.assert_array_equal(loaded, original, err_msg=where)
    elif isinstance(original, dict):
        assert list(loaded) == list(original), f"{where}: keys or their order differ"
        for key in original:
            assert_same(loaded[key], original[key], f"{where}[{key!r}]")
    elif isinstance(original, (list, tuple)):
        assert len(loaded) == len(original), where
        for i, (mine, theirs) in enumerate(zip(loaded, original)):
            assert_same(mine, theirs, f"{where}[{i}]")
    elif isinstance(original, float):
        assert (math.isnan(loaded) and math.isnan(original)) or \
            (loaded == original and math.copysign(1, loaded) == math.copysign(1, original)), where
    else:
        assert loaded == original, where


def roundtrip(obj, tmp_path):
    save(obj, tmp_path / "checkpoint.npz")
    return load(tmp_path / "checkpoint.npz")


# -- round trips ---------------------------------------------------------------------------------
def test_nested_structures_round_trip(tmp_path):
    rng = numpy.random.default_rng(0)
    obj = {
        "model": {"weight": minigan.tensor(rng.standard_normal((3, 4)), requires_grad=True),
                  "bias": minigan.tensor(rng.standard_normal(4).astype(numpy.float32)),
                  "num_batches_tracked": minigan.tensor(7)},
        "optimizer": {"state": {0: {"step": minigan.tensor(numpy.float32(5)), "exp_avg": minigan.zeros(3, 4)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "amsgrad": False, "params": [0]}]},
        "arrays": [numpy.arange(6, dtype=numpy.int64).reshape(2, 3), numpy.ones(3, dtype=numpy.float32),
                   numpy.zeros((0, 2)), numpy.array(True), rng.standard_normal((4, 5))[:, ::2],
                   numpy.arange(4, dtype=numpy.uint8)],
        "numbers": (0, -3, 2 ** 200, -(3 ** 90), 1.5, -0.0, float("nan"), float("inf"), -float("inf")),
        "scalars": [numpy.float32(2.5), numpy.int64(-4), numpy.bool_(False)],
        "plain": [None, True, False, "text with ünïcode", ""],
        1: "int key", 2.5: "float key", None: "None key", False: "bool key",
        "zebra": "order kept, not sorted", "apple": [],
    }
    assert_same(roundtrip(obj, tmp_path), obj)


def test_rng_state_round_trips_through_a_checkpoint_and_restores_the_stream(tmp_path):
    minigan.manual_seed(2 ** 64 - 5)  # a seed above int64's range survives as 8 unsigned bytes
    minigan.randn(5)
    state = minigan.get_rng_state()
    expected = minigan.randn(8).array
    loaded = roundtrip({"rng": state}, tmp_path)["rng"]
    assert loaded.dtype == minigan.uint8 and loaded.shape == (16,)
    numpy.testing.assert_array_equal(loaded.numpy(), state.numpy())
    minigan.set_rng_state(loaded)
    numpy.testing.assert_array_equal(minigan.randn(8).array, expected)


def test_a_checkpoint_is_a_plain_npz_that_numpy_reads_without_pickle(tmp_path):
    save({"weight": minigan.ones(2, 3)}, tmp_path / "checkpoint.npz")
    with numpy.load(tmp_path / "checkpoint.npz", allow_pickle=False) as npz:
        assert serialization.METADATA_KEY in npz.files and npz[serialization.METADATA_KEY].dtype == numpy.uint8
        arrays = [npz[name] for name in npz.files if name != serialization.METADATA_KEY]
    assert len(arrays) == 1 and arrays[0].shape == (2, 3)


def test_save_overwrites_an_existing_checkpoint(tmp_path):
    save({"epoch": 1}, tmp_path / "checkpoint.npz")
    save({"epoch": 2}, str(tmp_path / "checkpoint.npz"))
    assert load(tmp_path / "checkpoint.npz") == {"epoch": 2}
    assert os.listdir(tmp_path) == ["checkpoint.npz"]


def test_resuming_a_model_optimizer_and_rng_from_a_checkpoint_equals_uninterrupted_training(tmp_path):
    # What a training script saves: model and optimizer state dicts, the RNG state, the epoch.
    def build():
        model = nn.Sequential(nn.Linear(6, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
        return model, Adam(model.parameters(), lr=0.01, betas=(0.5, 0.999))

    def train(model, optimizer, epochs):
        for _ in range(epochs):
            batch = minigan.randn(16, 6)  # the data depend on the RNG, so it must be restored too
            optimizer.zero_grad()
            ((model(batch) - batch.sum(1, keepdim=True)) ** 2).mean().backward()
            optimizer.step()

    minigan.manual_seed(0)
    model, optimizer = build()
    train(model, optimizer, 8)
    uninterrupted = {name: tensor.array.copy() for name, tensor in model.state_dict().items()}

    minigan.manual_seed(0)
    model, optimizer = build()
    train(model, optimizer, 4)
    save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
          "rng": minigan.get_rng_state(), "epoch": 4}, tmp_path / "checkpoint.npz")
    minigan.manual_seed(99)  # a new process: other weights, another random stream
    model, optimizer = build()
    checkpoint = load(tmp_path / "checkpoint.npz")
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    minigan.set_rng_state(checkpoint["rng"])
    train(model, optimizer, 8 - checkpoint["epoch"])
    for name, tensor in model.state_dict().items():
        numpy.testing.assert_array_equal(tensor.array, uninterrupted[name], err_msg=name)  # bit for bit


leaves = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2 ** 63, max_value=2 ** 300)
          | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8)
          | st.builds(numpy.asarray, st.lists(st.floats(allow_nan=False, width=32), max_size=5)))
keys = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
structures = st.recursive(leaves, lambda children: st.lists(children, max_size=4)
                          | st.tuples(children, children) | st.dictionaries(keys, children, max_size=4),
                          max_leaves=20)


@settings(max_examples=30, deadline=None)
@given(obj=structures)
def test_any_nested_structure_round_trips(tmp_path_factory, obj):
    assert_same(roundtrip(obj, tmp_path_factory.mktemp("roundtrip")), obj)


# -- what cannot be saved --------------------------------------------------------------------------
@pytest.mark.parametrize("obj, message", [
    ({"model": {"layer": object()}}, r"cannot store a object at obj\['model'\]\['layer'\]"),
    ({"ids": {1, 2}}, r"cannot store a set at obj\['ids'\]"),
    ([numpy.array([{}], dtype=object)], r"obj\[0\] has dtype object, which would need pickling"),
    ({(1, 2): 3}, r"dict key \(1, 2\) in obj is a tuple"),
])
def test_objects_that_would_need_pickling_are_refused_by_save(tmp_path, obj, message):
    with pytest.raises(TypeError, match=message):
        save(obj, tmp_path / "checkpoint.npz")
    assert os.listdir(tmp_path) == []


def test_save_into_a_missing_directory_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save({}, tmp_path / "no" / "checkpoint.npz")


# -- crashes during save -----------------------------------------------------------------------------
def write_half_then_fail(file, **arrays):
    file.write(b"PK\x03\x04 half of a zip file")
    raise OSError("No space left on device (simulated)")


def fail(*args):
    raise OSError("simulated crash just before the rename")


def interrupt(*args):
    raise KeyboardInterrupt


@pytest.mark.parametrize("patch", [
    lambda monkeypatch: monkeypatch.setattr(serialization.numpy, "savez", write_half_then_fail),
    lambda monkeypatch: monkeypatch.setattr(serialization.os, "replace", fail),
    lambda monkeypatch: monkeypatch.setattr(serialization.os, "fsync", interrupt),
], ids=["writer_fails_midway", "rename_fails", "ctrl_c_during_fsync"])
def test_a_failed_save_leaves_the_previous_checkpoint_intact_and_no_temporary_file(tmp_path, monkeypatch, patch):
    path = tmp_path / "checkpoint.npz"
    previous = {"epoch": 1, "weight": numpy.arange(4.0)}
    save(previous, path)
    patch(monkeypatch)
    with pytest.raises((OSError, KeyboardInterrupt)):
        save({"epoch": 2, "weight": numpy.zeros(4)}, path)
    monkeypatch.undo()
    assert_same(load(path), previous)
    assert os.listdir(tmp_path) == ["checkpoint.npz"]


SAVER = """
import sys, numpy
from minigan.serialization import save
path, = sys.argv[1:]
big = numpy.arange(2_000_000, dtype=numpy.float64)
for epoch in range(1_000_000):
    save({"epoch": epoch, "weight": big + epoch}, path)
    if epoch == 0:
        print("saved", flush=True)
"""


def test_a_process_killed_while_saving_leaves_a_loadable_checkpoint(tmp_path):
    # SIGKILL at arbitrary moments of a loop of saves: the file at `path` is always a whole
    # checkpoint, old or new (a killed save may leave its temporary file behind, never a torn one).
    path = tmp_path / "checkpoint.npz"
    rng = numpy.random.default_rng(0)
    for _ in range(3):
        saver = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE)
        try:
            assert saver.stdout.readline() == b"saved\n"
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            saver.send_signal(signal.SIGKILL)
            saver.wait()
            saver.stdout.close()
        checkpoint = load(path)
        numpy.testing.assert_array_equal(checkpoint["weight"][:3], numpy.arange(3.0) + checkpoint["epoch"])


# -- what load refuses ---------------------------------------------------------------------------------
@pytest.fixture
def checkpoint_bytes(tmp_path):
    save({"weight": numpy.arange(1000.0), "epoch": 3}, tmp_path / "good.npz")
    return (tmp_path / "good.npz").read_bytes()


@pytest.mark.parametrize("fraction", [0.0, 0.001, 0.3, 0.9, 0.999])
def test_a_truncated_checkpoint_raises_checkpoint_error_naming_the_file(tmp_path, checkpoint_bytes, fraction):
    path = tmp_path / "truncated.npz"
    path.write_bytes(checkpoint_bytes[:int(len(checkpoint_bytes) * fraction)])
    with pytest.raises(CheckpointError, match=r"truncated\.npz.*(empty|truncated|cut short)"):
        load(path)


def test_a_corrupted_checkpoint_raises_checkpoint_error(tmp_path, checkpoint_bytes):
    corrupted = bytearray(checkpoint_bytes)
    corrupted[len(corrupted) // 2] ^= 0xFF  # one flipped byte in the array data: the CRC catches it
    (tmp_path / "corrupt.npz").write_bytes(bytes(corrupted))
    with pytest.raises(CheckpointError, match=r"corrupt\.npz.*corrupt"):
        load(tmp_path / "corrupt.npz")


def test_a_missing_file_raises_file_not_found_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        load(tmp_path / "nowhere.npz")


def test_files_that_are_not_zip_archives_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("epoch 3, loss 0.5")
    numpy.save(tmp_path / "array.npy", numpy.zeros(3))
    with pytest.raises(CheckpointError, match=r"notes\.txt: not a minigan checkpoint"):
        load(tmp_path / "notes.txt")
    with pytest.raises(CheckpointError, match=r"array\.npy: not a minigan checkpoint"):
        load(tmp_path / "array.npy")


def test_a_foreign_npz_is_refused(tmp_path):
    numpy.savez(tmp_path / "foreign.npz", weight=numpy.zeros(3))
    with pytest.raises(CheckpointError, match=r"foreign\.npz: an \.npz file but not a minigan checkpoint"):
        load(tmp_path / "foreign.npz")


def metadata_array(**fields):
    metadata = {"format": serialization.FORMAT, "version": serialization.VERSION, "root": None, **fields}
    return numpy.frombuffer(json.dumps(metadata).encode(), dtype=numpy.uint8)


def test_an_unknown_format_version_is_refused(tmp_path):
    numpy.savez(tmp_path / "future.npz", **{serialization.METADATA_KEY: metadata_array(version=99)})
    with pytest.raises(CheckpointError, match=(r"future\.npz: checkpoint format version 99; "
                                               r"this minigan reads version 1")):
        load(tmp_path / "future.npz")


def test_malformed_metadata_is_refused(tmp_path):
    numpy.savez(tmp_path / "odd.npz", **{serialization.METADATA_KEY: metadata_array(root={"dict": [1, 2]})})
    with pytest.raises(CheckpointError, match=r"odd\.npz: malformed checkpoint metadata"):
        load(tmp_path / "odd.npz")


unpickled = []


def record_unpickling(message):
    unpickled.append(message)


class Payload:
    """An object whose unpickling would run code (here: record that it happened)."""

    def __reduce__(self):
        return record_unpickling, ("code ran",)


@pytest.mark.parametrize("with_metadata", [True, False], ids=["checkpoint_like", "plain_npz"])
def test_a_pickle_bearing_npz_is_refused_allow_pickle_false(tmp_path, with_metadata):
    # minigan.load reads with numpy.load(allow_pickle=False): an object array is refused and
    # its pickle never runs.
    arrays = {"a0": numpy.array([Payload()], dtype=object)}
    if with_metadata:
        arrays[serialization.METADATA_KEY] = metadata_array(root={"array": "a0"})
    numpy.savez(tmp_path / "pickled.npz", **arrays)
    assert pickle.loads(pickle.dumps(Payload())) is None and unpickled == ["code ran"]  # the payload is live
    unpickled.clear()
    expected = "holds pickled Python objects" if with_metadata else "not a minigan checkpoint"
    with pytest.raises(CheckpointError, match=rf"pickled\.npz: .*{expected}"):
        load(tmp_path / "pickled.npz")
    assert unpickled == []
