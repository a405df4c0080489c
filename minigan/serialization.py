"""Checkpoints: save and load nested dicts, lists and tuples of tensors, arrays and plain values.

A checkpoint is an uncompressed `.npz` (a zip of `.npy` files) that numpy can read on its own:
  - 'a0', 'a1', ...: the arrays and tensors' data, one per array;
  - 'minigan': a uint8 array holding UTF-8 JSON that describes the structure, e.g.
      {"format": "minigan-checkpoint", "version": 1,
       "root": {"dict": [["epoch", 3], ["model", {"dict": [["weight", {"tensor": "a0"}]]}]]}}
    Lists, str, finite floats, ints of any size, bools and None are JSON's own; every JSON object
    is a tagged node with a single key: "dict" (a list of [key, value] pairs, so order and int
    keys survive), "tuple", "tensor", "array", "scalar" (a numpy scalar) or "float" (nan, inf).
Nothing is ever pickled: `load` reads with numpy.load(allow_pickle=False) and refuses anything
else. `save` writes a temporary file in the same directory, fsyncs it, renames it over the target
and fsyncs the directory, so a crash at any moment leaves either the old or the new checkpoint.
"""
import json
import math
import os
import zipfile

import numpy

from minigan import backend
from minigan.atomic import atomic_writer
from minigan.tensor import Tensor

FORMAT = "minigan-checkpoint"
VERSION = 1
METADATA_KEY = "minigan"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip starts with a file entry, or ends at once if empty


class CheckpointError(ValueError):
    """The file is not a minigan checkpoint: empty, truncated, corrupt, foreign or pickle-bearing."""


# --------------------------------------------------------------------------------------------
# save
# --------------------------------------------------------------------------------------------
def save(obj, path):
    """Write `obj` (nested dicts / lists / tuples of Tensors, arrays, numbers, str, bool, None)
    to `path` as a checkpoint, atomically: the previous file at `path` survives any crash."""
    path = os.fspath(path)
    arrays = {}
    root = _encode(obj, arrays, "obj")
    metadata = json.dumps({"format": FORMAT, "version": VERSION, "root": root}, allow_nan=False)
    arrays[METADATA_KEY] = numpy.frombuffer(metadata.encode("utf-8"), dtype=numpy.uint8)
    _write_atomically(path, arrays)


def _encode(obj, arrays, where):
    """The JSON node for `obj`; its arrays go into `arrays` under fresh names. `where` names the
    position in the structure for error messages, e.g. obj['model']['weight']."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, Tensor):  # a tensor on 'cuda' is copied to the host; load gives host tensors
        return {"tensor": _store(backend.to_numpy(obj.array), arrays, where)}
    if isinstance(obj, numpy.ndarray) or backend.is_device_array(obj):
        return {"array": _store(backend.to_numpy(obj), arrays, where)}
    if isinstance(obj, numpy.generic):  # before float: numpy.float64 is a Python float too
        return {"scalar": _store(numpy.asarray(obj), arrays, where)}
    if isinstance(obj, int):
        return int(obj)  # plain int also for int subclasses (IntEnum)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else {"float": repr(float(obj))}
    if isinstance(obj, dict):
        return {"dict": [[_encode_key(key, where), _encode(value, arrays, f"{where}[{key!r}]")]
                         for key, value in obj.items()]}
    if isinstance(obj, (list, tuple)):
        items = [_encode(value, arrays, f"{where}[{i}]") for i, value in enumerate(obj)]
        return {"tuple": items} if isinstance(obj, tuple) else items
    raise TypeError(f"save: cannot store a {type(obj).__name__} at {where}: checkpoints hold dicts, "
                    "lists, tuples, Tensors, arrays, numbers, str, bool and None (no pickling)")


def _encode_key(key, where):
    if key is None or isinstance(key, (bool, str, int, float)):
        return _encode(key, {}, where)
    raise TypeError(f"save: dict key {key!r} in {where} is a {type(key).__name__}: keys must be "
                    "str, int, float, bool or None")


def _store(array, arrays, where):
    if array.dtype.hasobject:
        raise TypeError(f"save: the array at {where} has dtype {array.dtype}, which would need "
                        "pickling: store numeric arrays only")
    name = f"a{len(arrays)}"
    arrays[name] = array
    return name


def _write_atomically(path, arrays):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save: cannot write {path!r}: directory {directory!r} does not exist")
    with atomic_writer(path) as file:
        numpy.savez(file, **arrays)


# --------------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------------
def load(path):
    """Read a checkpoint written by `save`: Tensors come back as Tensors (requires_grad=False),
    arrays as arrays, dicts in their order. Raises FileNotFoundError for a missing file and
    CheckpointError, naming the file and the problem, for anything that is not a checkpoint."""
    path = os.fspath(path)
    with open(path, "rb") as file:
        _check_zip_magic(file, path)
        try:
            with numpy.load(file, allow_pickle=False) as npz:
                metadata = _read_metadata(npz, path)
                arrays = {name: _read_array(npz, name, path) for name in npz.files if name != METADATA_KEY}
        except (zipfile.BadZipFile, EOFError, ValueError, OSError) as error:
            if isinstance(error, CheckpointError):
                raise
            raise CheckpointError(f"{path}: the checkpoint is truncated or corrupt ({error})") from error
    try:
        return _decode(metadata["root"], arrays, path)
    except (TypeError, ValueError) as error:  # e.g. a "dict" node whose items are not pairs
        if isinstance(error, CheckpointError):
            raise
        raise CheckpointError(f"{path}: malformed checkpoint metadata ({error})") from error


def _check_zip_magic(file, path):
    start = file.read(4)
    if not start:
        raise CheckpointError(f"{path}: not a minigan checkpoint: the file is empty")
    if start not in _ZIP_MAGIC:
        raise CheckpointError(f"{path}: not a minigan checkpoint: it is not an .npz (zip) file, or "
                              f"is cut short (it starts with {start!r})")
    file.seek(0)


def _read_metadata(npz, path):
    if METADATA_KEY not in npz.files:
        raise CheckpointError(f"{path}: an .npz file but not a minigan checkpoint (it has no "
                              f"'{METADATA_KEY}' metadata; its arrays are {npz.files[:10]}); "
                              "read it with numpy.load")
    raw = _read_array(npz, METADATA_KEY, path)
    try:
        metadata = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: the checkpoint's metadata is corrupt ({error})") from error
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT or "root" not in metadata:
        raise CheckpointError(f"{path}: the '{METADATA_KEY}' entry is not minigan checkpoint metadata")
    if metadata.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {metadata.get('version')!r}; this "
                              f"minigan reads version {VERSION}")
    return metadata


def _read_array(npz, name, path):
    try:
        return npz[name]
    except ValueError as error:
        if _holds_objects(npz, name):
            raise CheckpointError(f"{path}: array {name!r} holds pickled Python objects; minigan "
                                  "never unpickles (numpy.load with allow_pickle=False)") from error
        raise


def _holds_objects(npz, name):
    """Whether the .npy header of `name` declares an object dtype (whose data is a pickle)."""
    with npz.zip.open(name + ".npy") as member:
        version = numpy.lib.format.read_magic(member)
        read_header = (numpy.lib.format.read_array_header_1_0 if version == (1, 0)
                       else numpy.lib.format.read_array_header_2_0)
        return read_header(member)[2].hasobject


def _decode(node, arrays, path):
    if node is None or isinstance(node, (bool, str, int, float)):
        return node
    if isinstance(node, list):
        return [_decode(item, arrays, path) for item in node]
    if not isinstance(node, dict) or len(node) != 1:
        raise CheckpointError(f"{path}: malformed checkpoint metadata near {str(node)[:80]}")
    (tag, value), = node.items()
    if tag == "dict":
        return {_decode(key, arrays, path): _decode(item, arrays, path) for key, item in value}
    if tag == "tuple":
        return tuple(_decode(item, arrays, path) for item in value)
    if tag == "float":
        return float(value)
    if tag in ("tensor", "array", "scalar"):
        if value not in arrays:
            raise CheckpointError(f"{path}: the checkpoint lacks array {value!r} named in its metadata")
        array = arrays[value]
        return Tensor(array) if tag == "tensor" else array if tag == "array" else array[()]
    raise CheckpointError(f"{path}: malformed checkpoint metadata: unknown node type {tag!r}")
