"""The one seam between minigan and its array libraries: numpy on 'cpu' (CuPy joins on 'cuda').

Ops never name numpy for array data: they ask `get_array_module(array)` for the library that owns
an array and call that, so the same op code runs wherever the array lives.
"""
import numpy

float32 = numpy.float32
float64 = numpy.float64
float16 = numpy.float16
int64 = numpy.int64
int32 = numpy.int32
uint8 = numpy.uint8
bool_ = numpy.bool_

_default_float_dtype = numpy.dtype(numpy.float32)


def set_default_dtype(dtype):
    """The dtype that Python floats and `zeros`/`randn`/... become: float32 unless changed."""
    global _default_float_dtype
    dtype = numpy.dtype(dtype)
    if dtype not in (numpy.float32, numpy.float64):
        raise TypeError(f"set_default_dtype: only float32 and float64 are supported, got {dtype}")
    _default_float_dtype = dtype


def default_dtype():
    return _default_float_dtype


get_default_dtype = default_dtype


def get_array_module(array):
    """The array library that owns `array`: every op asks this instead of naming numpy."""
    return numpy


def device_of(array):
    """The device name of an array."""
    return "cpu"


def check_device(device):
    """The canonical device name ('cpu') for any accepted spelling."""
    if device in (None, "cpu", "numpy"):
        return "cpu"
    raise ValueError(f"unknown device {device!r}: minigan knows 'cpu' (alias 'numpy')")


def as_array(data, dtype=None, device=None):
    """`data` (nested lists, scalars, arrays) as an array of `device`, copying only when needed."""
    check_device(device)
    return numpy.asarray(to_numpy(data) if not isinstance(data, (list, tuple)) else data, dtype=dtype)


def as_ndarray(value):
    """Arrays stay as they are; numpy's 0-d results (numpy.float64 scalars) become 0-d arrays."""
    return numpy.asarray(value) if isinstance(value, numpy.generic) else value


def to_numpy(array):
    """A host numpy array with the data of `array`."""
    return numpy.asarray(array)
