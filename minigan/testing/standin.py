"""A stand-in GPU for machines without one: numpy computes, but arrays behave as CuPy's at the
host/device boundary, and every array-library call is counted as a kernel launch.

CuPy code breaks in ways numpy code never shows: a numpy array made inside an op and combined with
device data, an index array left on the host, a silent conversion to host in the middle of a step.
On the stand-in each of those raises `HostDeviceError` at once, so the CPU test suite catches them.

- `DeviceArray` wraps a numpy array. It refuses to meet a numpy array in any operation, refuses
  implicit conversion (`numpy.asarray(a)` raises, as with CuPy; `a.get()` copies to the host).
- `xp` (the module object) mirrors numpy's namespace as `cupy` mirrors it: `xp.exp`, `xp.zeros`,
  `xp.add.at`, `xp.lib.stride_tricks.as_strided`... on DeviceArrays.
- `xp.random.default_rng(seed)` is a `Generator` with the methods of CuPy's: numpy draws, the
  samples live on the device.
- `counter` counts launches (a call that writes new memory or writes in place; views and empty
  allocations are free, as on the GPU), host synchronisations (`.item()`, `float()`, `.get()`) and
  host-to-device copies (`xp.asarray` of host data, a Python number included). Where minigan runs
  a custom CUDA kernel on a GPU, it runs the op's plain array code here inside `xp.one_launch()`,
  which counts as the one launch the kernel would be.
- `use_for_cuda()`: 'cuda' means this device (from now on, or inside a `with` block). It
  registers itself with minigan's backend as an array library from outside: nothing in minigan
  knows it by name.
"""
import types

import numpy

from minigan import backend
from minigan.errors import HostDeviceError

try:
    import cupy as _cupy  # where CuPy is installed, the stand-in refuses what it lacks
except ImportError:
    _cupy = None


def _cupy_lacks(path):
    """True when the installed CuPy has nothing at `path` ('lib.stride_tricks.as_strided', 'add.at')."""
    found = _cupy
    for part in path.split(".") if _cupy is not None else ():
        if not hasattr(found, part):
            return True
        found = getattr(found, part)
    return False


def _missing_in_cupy(path):
    return AttributeError(f"cupy.{path}: CuPy {_cupy.__version__} has no such thing, so code on the device "
                          "cannot use it (the stand-in refuses it as CuPy would)")




class LaunchCounter:
    def __init__(self):
        self.reset()

    def reset(self):
        self.launches = 0
        self.syncs = 0
        self.transfers = 0
        self.paused = 0


counter = LaunchCounter()


class single_launch:
    """Count what runs inside as one launch: a custom kernel's twin stands for one kernel."""

    def __enter__(self):
        counter.paused += 1

    def __exit__(self, *exc_info):
        counter.paused -= 1
        if not counter.paused:
            counter.launches += 1


def _refuse(what):
    raise HostDeviceError(
        f"stand-in device: {what}; on a GPU this fails the same way. Keep all arrays of an op on "
        "one device: create them with the input's array module (get_array_module(x).zeros(...)) "
        "or move tensors with .to(device)")


def _unwrap(value, name):
    """Device arrays to the numpy arrays inside; host arrays are refused, containers walked."""
    if type(value) is DeviceArray:
        return value._array
    if isinstance(value, numpy.ndarray):
        _refuse(f"a host numpy array of shape {value.shape} was passed to {name} together with device data")
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v, name) for v in value)
    return value


def _wrapped_around(index, shape):
    """CuPy reads an out-of-range integer index array modulo its axis's length (x[5] of 5 elements is
    x[0]) where numpy raises: the same here, for an index of one component per axis."""
    components = index if isinstance(index, tuple) else (index,)
    if any(c is Ellipsis or c is None for c in components) or len(components) > len(shape):
        return index
    wrapped = tuple(c % length if isinstance(c, numpy.ndarray) and c.dtype.kind in "iu" else c
                    for c, length in zip(components, shape))
    return wrapped if isinstance(index, tuple) else wrapped[0]


def _wrap(value):
    if isinstance(value, numpy.ndarray):
        return DeviceArray(value)
    if isinstance(value, numpy.generic) and not isinstance(value, (numpy.str_, numpy.bytes_)):
        return DeviceArray(numpy.asarray(value))  # CuPy gives 0-d device arrays, never host scalars
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _writes_new_memory(result, inputs):
    results = result if isinstance(result, tuple) else (result,)
    if any(isinstance(r, numpy.generic) for r in results):  # a full reduction: a 0-d array on a GPU
        return True
    arrays = [r for r in results if isinstance(r, numpy.ndarray)]
    return any(not any(numpy.may_share_memory(r, i) for i in inputs) for r in arrays)


def _count_call(result, raw_args, in_place=False):
    if counter.paused:
        return
    inputs = [a for a in raw_args if isinstance(a, numpy.ndarray)]
    if in_place or _writes_new_memory(result, inputs):
        counter.launches += 1


def _device_call(function, name, owner=None, launches=True):
    """`function` taking and giving device arrays; `owner` is the array a method belongs to.
    `launches=False` for calls that only allocate (empty, empty_like): no kernel runs for them."""
    def call(*args, **kwargs):
        raw_args = _unwrap(args, name)
        raw_kwargs = {k: _unwrap(v, name) for k, v in kwargs.items()}
        with numpy.errstate(all="ignore"):  # CuPy never warns of a log(0) or a 0/0: neither does the device
            result = function(*raw_args, **raw_kwargs)
        inputs = [a for a in raw_args if isinstance(a, numpy.ndarray)]
        inputs += [a for v in raw_args if isinstance(v, (list, tuple)) for a in v if isinstance(a, numpy.ndarray)]
        if owner is not None:
            inputs.append(owner)
        if launches:
            _count_call(result, inputs, in_place="out" in kwargs or result is None)
        return _wrap(result)
    call.__name__ = name
    return call


def _device_method(array, method, name):
    return _device_call(method, name, owner=array)


_TRANSFERS = {"asarray", "array", "ascontiguousarray"}
_ALLOCATIONS = {"empty", "empty_like"}


def _transfer(function, name):
    """asarray and friends accept host data: that is an explicit host-to-device copy."""
    def call(data, *args, **kwargs):
        if type(data) is DeviceArray:
            result = function(data._array, *args, **kwargs)
            _count_call(result, [data._array])
            return _wrap(result)
        counter.transfers += 1
        return DeviceArray(numpy.array(function(data, *args, **kwargs)))
    call.__name__ = name
    return call


class _Namespace:
    """numpy's namespace (or a submodule of it) seen from the device."""

    def __init__(self, module, prefix):
        self._module, self._prefix = module, prefix

    def __getattr__(self, attribute):
        value = getattr(self._module, attribute)
        name = f"{self._prefix}.{attribute}"
        if _cupy_lacks(name.partition(".")[2]):
            raise _missing_in_cupy(name.partition(".")[2])
        if attribute == "ndarray":
            return DeviceArray
        if isinstance(value, types.ModuleType):
            wrapped = _Namespace(value, name)
        elif isinstance(value, numpy.ufunc):
            wrapped = _Ufunc(value, name)
        elif isinstance(value, type):
            wrapped = value  # dtypes and scalar types are shared with the host, as in CuPy
        elif attribute in _TRANSFERS:
            wrapped = _transfer(value, name)
        elif callable(value):
            wrapped = _device_call(value, name, launches=attribute not in _ALLOCATIONS)
        else:
            wrapped = value
        setattr(self, attribute, wrapped)
        return wrapped


# The dtypes CuPy 14's `ufunc.at` takes (its scatter kernels are CUDA atomics): the messages of
# cupy/_core/_routines_indexing.pyx, which tests/test_devices.py reads from the installed CuPy.
_INTEGERS_AT = ("int32", "int64", "uint32", "uint64")
UFUNC_AT_DTYPES = {"add": ("int32", "int64", "float16", "float32", "float64", "uint32", "uint64"),
                   "subtract": ("int32", "uint32"),
                   "maximum": ("int32", "int64", "float32", "float64", "uint32", "uint64"),
                   "minimum": ("int32", "int64", "float32", "float64", "uint32", "uint64"),
                   "bitwise_and": _INTEGERS_AT, "bitwise_or": _INTEGERS_AT, "bitwise_xor": _INTEGERS_AT}


class _Ufunc:
    """A numpy ufunc on device arrays, with its methods (`xp.add.at`, `xp.maximum.reduce`)."""

    def __init__(self, ufunc, name):
        self._call = _device_call(ufunc, name)
        self._ufunc, self._name = ufunc, name

    def __call__(self, *args, **kwargs):
        return self._call(*args, **kwargs)

    def __getattr__(self, method):
        path = f"{self._name.partition('.')[2]}.{method}"
        if _cupy_lacks(path):
            raise _missing_in_cupy(path)
        call = _device_call(getattr(self._ufunc, method), f"{self._name}.{method}")
        return self._at_checking_dtype(call) if method == "at" else call

    def _at_checking_dtype(self, at):
        ufunc = self._name.partition(".")[2]

        def checked(target, *args, **kwargs):
            supported = UFUNC_AT_DTYPES.get(ufunc, ())
            if target.dtype.name not in supported:
                raise TypeError(f"cupy.{ufunc}.at only supports {', '.join(supported) or 'no'} as data type, "
                                f"got {target.dtype.name} (the stand-in refuses it as CuPy would)")
            return at(target, *args, **kwargs)
        return checked


class Generator:
    """CuPy's `cupy.random.Generator` on the stand-in: each draw is one launch, its samples live
    on the device. Its bit generator (PCG64DXSM) differs from the host's (PCG64), so the same
    seed gives the device a stream of its own, as CuPy's XORWOW does."""

    def __init__(self, seed=None):
        self._host = numpy.random.Generator(numpy.random.PCG64DXSM(seed))

    def _draw(self, samples, dtype):
        if not counter.paused:
            counter.launches += 1
        return DeviceArray(numpy.asarray(samples, dtype=dtype))

    def random(self, size=None, dtype=numpy.float64):
        return self._draw(self._host.random(size, dtype=dtype), dtype)

    def standard_normal(self, size=None, dtype=numpy.float64):
        return self._draw(self._host.standard_normal(size, dtype=dtype), dtype)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=numpy.float64):
        return self._draw(self._host.uniform(low, high, size), dtype)

    def integers(self, low, high=None, size=None, dtype=numpy.int64, endpoint=False):
        return self._draw(self._host.integers(low, high, size, dtype=dtype, endpoint=endpoint), dtype)


xp = _Namespace(numpy, "xp")
xp.random.default_rng = Generator  # as cupy.random.default_rng(seed)


def _binary(operator_name):
    def method(self, other):
        raw_other = _unwrap(other, f"the operator {operator_name}")
        with numpy.errstate(all="ignore"):
            result = getattr(self._array, operator_name)(raw_other)
        if result is NotImplemented:
            return result
        _count_call(result, [self._array] + ([raw_other] if isinstance(raw_other, numpy.ndarray) else []),
                    in_place=operator_name.startswith("__i"))
        return self if operator_name.startswith("__i") else _wrap(result)
    method.__name__ = operator_name
    return method


def _unary(operator_name):
    def method(self):
        result = getattr(self._array, operator_name)()
        _count_call(result, [self._array])
        return _wrap(result)
    method.__name__ = operator_name
    return method


class DeviceArray:
    """A numpy array that lives on the stand-in device."""

    __slots__ = ("_array",)

    def __init__(self, array):
        self._array = array

    # -- what numpy would do silently, refused as CuPy refuses it ---------------------------
    def __array__(self, *args, **kwargs):
        _refuse(f"implicit conversion of a device array of shape {self.shape} to a host numpy array "
                "(use .get() to copy it to the host explicitly)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _refuse(f"numpy.{ufunc.__name__} was called on a device array: call it through the array's "
                "module (get_array_module(x)) instead of numpy")

    def __array_function__(self, function, types_, args, kwargs):
        _refuse(f"numpy.{function.__name__} was called on a device array: call it through the array's "
                "module (get_array_module(x)) instead of numpy")

    # -- leaving the device, explicitly ----------------------------------------------------
    def get(self):
        counter.syncs += 1
        return self._array.copy()

    def item(self):
        counter.syncs += 1
        return self._array.item()

    def tolist(self):
        counter.syncs += 1
        return self._array.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        return bool(self.item())

    def __index__(self):
        if _cupy_lacks("ndarray.__index__"):  # CuPy 14's arrays are no Python integers: range(n), x[n]...
            raise TypeError("a device array is not a Python integer (CuPy's arrays have no __index__): convert it "
                            "explicitly with int(...), which waits for the device")
        return int(self.item())

    # -- metadata and views: no launch ---------------------------------------------------------
    shape = property(lambda self: self._array.shape)
    dtype = property(lambda self: self._array.dtype)
    ndim = property(lambda self: self._array.ndim)
    size = property(lambda self: self._array.size)
    strides = property(lambda self: self._array.strides)
    itemsize = property(lambda self: self._array.itemsize)
    nbytes = property(lambda self: self._array.nbytes)
    flags = property(lambda self: self._array.flags)
    base = property(lambda self: None if self._array.base is None else DeviceArray(self._array.base))
    T = property(lambda self: DeviceArray(self._array.T))
    mT = property(lambda self: DeviceArray(self._array.mT))
    device = property(lambda self: "standin")

    def __len__(self):
        return len(self._array)

    def __repr__(self):
        return f"DeviceArray({self._array!r})"

    def __getattr__(self, attribute):
        if attribute.startswith("__array"):  # numpy's other doors to the raw buffer stay shut
            raise AttributeError(attribute)
        if _cupy_lacks(f"ndarray.{attribute}"):
            raise _missing_in_cupy(f"ndarray.{attribute}")
        value = getattr(self._array, attribute)
        return _device_method(self._array, value, f"ndarray.{attribute}") if callable(value) else value

    def __getitem__(self, index):
        result = self._array[_wrapped_around(_unwrap(index, "indexing (an index array left on the host?)"),
                                             self._array.shape)]
        _count_call(result, [self._array])
        return _wrap(result)

    def __setitem__(self, index, value):
        if isinstance(value, list):
            raise TypeError("item assignment: CuPy takes an array or a number as the value, not a list")
        self._array[_unwrap(index, "indexing (an index array left on the host?)")] = _unwrap(value, "item assignment")
        _count_call(None, [], in_place=True)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    __hash__ = None


for _name in ["__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
              "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__", "__rpow__",
              "__matmul__", "__rmatmul__", "__and__", "__rand__", "__or__", "__ror__", "__xor__", "__rxor__",
              "__lshift__", "__rlshift__", "__rshift__", "__rrshift__",
              "__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__",
              "__iadd__", "__isub__", "__imul__", "__itruediv__", "__iand__", "__ior__", "__ipow__"]:
    setattr(DeviceArray, _name, _binary(_name))
for _name in ["__neg__", "__pos__", "__abs__", "__invert__"]:
    setattr(DeviceArray, _name, _unary(_name))


xp.one_launch = single_launch
backend.register_array_module(DeviceArray, xp)


def use_for_cuda(enabled=True):
    """'cuda' means the stand-in device (False: CuPy again), from now on or inside a `with` block."""
    return backend.cuda_module(xp if enabled else None)
