"""The one seam between minigan and its array libraries: numpy on 'cpu', CuPy on 'cuda'.

Ops never name numpy for array data: they ask `get_array_module(array)` for the library that owns
an array and call that, so the same op code runs wherever the array lives:

    numpy.ndarray              device 'cpu'    module numpy
    cupy.ndarray               device 'cuda'   module cupy

Devices are named as torch names them: 'cpu' (alias 'numpy') and 'cuda' (aliases 'cupy',
'cuda:0'). `module_for(device)` is the library that makes arrays on a device; 'cuda' imports CuPy
on first use and raises `DeviceUnavailableError`, saying what is missing, where CuPy or a usable
GPU is not there. Another array library may register itself (`register_array_module`) and take
CuPy's place as 'cuda' (`cuda_module`): the tests' stand-in GPU does, so that they run the exact
CUDA code path on a machine without a GPU.

float32 matrix products on CuPy use full float32 precision, as torch's do by default: TF32 tensor
cores (10-bit mantissas, up to ~1e-3 relative error) are off unless `allow_tf32(True)` is called
or the environment sets CuPy's own switch, CUPY_TF32=1.
"""
import os
import sys

import numpy

from minigan import host_memory  # noqa: F401  (tunes malloc before the first large array)

float32 = numpy.float32
float64 = numpy.float64
float16 = numpy.float16
int64 = numpy.int64
int32 = numpy.int32
uint8 = numpy.uint8
bool_ = numpy.bool_
int16 = numpy.int16
int8 = numpy.int8


class finfo:
    """torch.finfo: the limits of a float dtype (the default dtype if none), as Python numbers."""

    def __init__(self, type=None):
        info = numpy.finfo(default_dtype() if type is None else type)
        self.bits, self.dtype = int(info.bits), str(info.dtype)
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """torch.iinfo: the limits of an integer dtype, as Python ints."""

    def __init__(self, type):
        info = numpy.iinfo(type)
        self.bits, self.dtype, self.max, self.min = int(info.bits), str(info.dtype), int(info.max), int(info.min)

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


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


# --------------------------------------------------------------------------------------------
# Which library owns an array, and on which device it lives
# --------------------------------------------------------------------------------------------
def get_array_module(array):
    """The array library that owns `array`: every op asks this instead of naming numpy."""
    kind = type(array)
    if kind is numpy.ndarray:  # the CPU's fast path: one type check
        return numpy
    registered = _registered_modules.get(kind)
    if registered is not None:
        return registered
    cupy = sys.modules.get("cupy")  # no CuPy loaded means no CuPy arrays exist
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy
    return numpy


def shares_memory(result, array):
    """Whether `result` may view `array`'s memory: a cheap test of their address ranges, which
    tells a reshape or slice (a view) from a copy."""
    return bool(get_array_module(array).may_share_memory(result, array))


def device_of(array):
    """'cpu' for a host array (or a number), 'cuda' for a CuPy or stand-in array."""
    return "cpu" if get_array_module(array) is numpy else "cuda"


def is_device_array(value):
    """True for an array that lives on 'cuda' (CuPy's or the stand-in's)."""
    return get_array_module(value) is not numpy and hasattr(value, "shape")


class DeviceMismatchError(RuntimeError):
    """An op was given arrays that live on different devices."""




def check_same_device(op, arrays):
    """Raise DeviceMismatchError, naming `op` and both devices, unless all `arrays` share one."""
    first = type(arrays[0])
    for array in arrays[1:]:
        if type(array) is not first and device_of(array) != device_of(arrays[0]):
            raise DeviceMismatchError(
                f"{op}: inputs are on different devices: {device_of(arrays[0])} and {device_of(array)}; "
                "move them to one device first, e.g. x.to('cuda') or x.cpu()")


# --------------------------------------------------------------------------------------------
# Device names, and the library behind each
# --------------------------------------------------------------------------------------------
_DEVICE_NAMES = {None: "cpu", "cpu": "cpu", "numpy": "cpu", "cuda": "cuda", "cupy": "cuda", "cuda:0": "cuda"}
INSTALL_CUDA = 'pip install -e ".[cuda]"'


def check_device(device):
    """The canonical device name, 'cpu' or 'cuda', for any accepted spelling (None means 'cpu')."""
    try:
        return _DEVICE_NAMES[device]
    except (KeyError, TypeError):
        pass
    if isinstance(device, int) and not isinstance(device, bool):  # torch reads an int as a GPU index
        return check_device(f"cuda:{device}")
    if isinstance(device, str) and device.startswith("cuda:"):
        raise ValueError(f"device {device!r}: minigan runs on one GPU, 'cuda' (or 'cuda:0'); "
                         "choose the GPU with CUDA_VISIBLE_DEVICES")
    raise ValueError(f"unknown device {device!r}: minigan knows 'cpu' (alias 'numpy') and "
                     "'cuda' (aliases 'cupy', 'cuda:0')")


class device(str):
    """torch.device: `device('cuda')`, `device('cuda:0')`, `device('cuda', 0)`, `device('cpu')`.

    It is accepted wherever a device is, and is also the str of its canonical name ('cpu' or
    'cuda'), so `t.device == 'cuda'` holds (torch's device never equals a str).
    """

    def __new__(cls, type, index=None):
        if isinstance(type, device) and index is None:
            return type
        spelled = type if index is None else f"{type}:{index}"
        name = check_device(spelled)
        self = super().__new__(cls, name)
        self.type = name
        if index is None and isinstance(spelled, str) and ":" in spelled:
            index = int(spelled.split(":")[1])
        self.index = index if name == "cuda" else None
        return self

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"


# what Tensor.device returns, as torch: a cuda tensor is on device(type='cuda', index=0)
DEVICES = {"cpu": device("cpu"), "cuda": device("cuda", 0)}


def module_for(device):
    """The array library that makes arrays on `device`: numpy for 'cpu'; for 'cuda', CuPy (or the
    module registered in its place), raising DeviceUnavailableError if it cannot run."""
    if device is None or device == "cpu" or check_device(device) == "cpu":  # cheapest tests first
        return numpy
    return _cupy() if _cuda_module is None else _cuda_module


class DeviceUnavailableError(RuntimeError):
    """'cuda' was asked for, but CuPy is not installed or cannot reach a GPU."""


_cupy_module = None  # CuPy, once it has been imported and found a GPU


def _cupy():
    """CuPy, imported and checked for a usable GPU on first use."""
    global _cupy_module
    if _cupy_module is None:
        cupy = _import_cupy()
        _check_gpu(cupy)
        _cupy_module = cupy
        _apply_tf32()
    return _cupy_module


def _import_cupy():
    try:
        import cupy
    except ImportError as error:
        raise DeviceUnavailableError(
            f"device 'cuda' needs CuPy, which is not installed ({error}). Install minigan's CUDA "
            f"extra (CuPy for CUDA 13): {INSTALL_CUDA}") from error
    return cupy


def _check_gpu(cupy):
    """Raise DeviceUnavailableError saying what is missing, unless CuPy can use a GPU."""
    runtime = cupy.cuda.runtime
    try:
        count = runtime.getDeviceCount()
    except runtime.CUDARuntimeError as error:
        if "InsufficientDriver" in str(error):
            problem = ("the NVIDIA driver is missing or older than the CUDA runtime CuPy was built for "
                       f"({error}); install or update the driver")
        elif "NoDevice" in str(error):
            problem = f"no CUDA GPU is visible ({error}); check the machine and CUDA_VISIBLE_DEVICES"
        else:
            problem = f"CUDA cannot start ({error})"
        raise DeviceUnavailableError(
            f"device 'cuda': CuPy is installed but cannot use a GPU: {problem}. Without a GPU use "
            f"device 'cpu' (--backend numpy); with one, reinstall the CUDA extra: {INSTALL_CUDA}") from error
    if count == 0:
        raise DeviceUnavailableError(
            "device 'cuda': CuPy is installed but finds no CUDA GPU; use device 'cpu' (--backend numpy)")
    missing = missing_cuda_libraries(cupy)
    if missing:
        raise DeviceUnavailableError(
            f"device 'cuda': CuPy finds a GPU but not {'; nor '.join(missing)}. CuPy 14 needs a CUDA toolkit beside "
            f"the driver; install minigan's CUDA extra, which brings CuPy's (cupy-cuda13x[ctk]): {INSTALL_CUDA}")


def missing_cuda_libraries(cupy):
    """What CuPy lacks on this machine to run minigan's ops, each named: cuBLAS (every matmul), NVRTC
    (every kernel compile) and the CUDA headers (CuPy's own kernels include them); [] when none.
    A machine with only the NVIDIA driver finds a GPU and fails at the first matmul without them."""
    missing = []
    try:
        cupy.cuda.cublas  # noqa: B018  (CuPy loads libcublas when this is first read)
    except (ImportError, AttributeError) as error:
        missing.append(f"cuBLAS ({error})")
    try:
        cupy.cuda.nvrtc.getVersion()
    except Exception as error:  # the module imports; the library it loads may not
        missing.append(f"NVRTC ({error})")
    cuda_path = cupy.cuda.get_cuda_path()
    if cuda_path is None or not os.path.exists(os.path.join(cuda_path, "include", "cuda_fp16.h")):
        missing.append(f"the CUDA headers (no include/cuda_fp16.h under {cuda_path})")
    return missing


def cuda_is_available():
    """True when CuPy imports and a GPU is usable (the stand-in does not count). Never raises."""
    try:
        _cupy()
    except DeviceUnavailableError:
        return False
    return True


_registered_modules = {}  # array type -> the module that owns it, for libraries registered from outside
_cuda_module = None       # a registered module standing in for CuPy as device 'cuda', or None


def register_array_module(array_type, module):
    """Arrays of `array_type` belong to `module` (a numpy-like namespace) and live on 'cuda'."""
    _registered_modules[array_type] = module


class cuda_module:
    """'cuda' means `module` (a registered one; None: CuPy again) from now on, or only inside a
    `with` block."""

    def __init__(self, module):
        global _cuda_module
        self.previous, _cuda_module = _cuda_module, module

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        global _cuda_module
        _cuda_module = self.previous


# --------------------------------------------------------------------------------------------
# TF32: off by default, as in torch
# --------------------------------------------------------------------------------------------
_tf32 = os.environ.get("CUPY_TF32", "0").strip() not in ("", "0")  # CuPy's own switch, off unless set


def allow_tf32(allowed=True):
    """Let CuPy's float32 matrix products use TF32 tensor cores (faster on Ampere and later GPUs,
    about 1e-3 relative error) or, with False, full float32 precision (the default, as torch)."""
    global _tf32
    _tf32 = bool(allowed)
    if _cupy_module is not None:
        _apply_tf32()


def tf32_allowed():
    return _tf32


def _apply_tf32():
    """Set CuPy's cuBLAS compute type for float32. CuPy 14 keeps it per dtype in a private module;
    where that is gone, CUPY_TF32 still decides, read by CuPy at its first float32 product."""
    linalg = getattr(_cupy_module._core, "_routines_linalg", None)
    if not hasattr(linalg, "set_compute_type"):
        os.environ["CUPY_TF32"] = "1" if _tf32 else "0"
        return
    linalg.set_compute_type(numpy.float32, linalg.COMPUTE_TYPE_TF32 if _tf32 else linalg.COMPUTE_TYPE_DEFAULT)


# --------------------------------------------------------------------------------------------
# Making arrays and moving them between devices
# --------------------------------------------------------------------------------------------
def as_array(data, dtype=None, device=None):
    """`data` (nested lists, numbers, arrays) as an array on `device`, copying only when needed.
    Without `device`, an array stays where it is and anything else goes to the host."""
    source = get_array_module(data)
    xp = source if device is None else module_for(device)
    if source is not xp and hasattr(data, "shape"):
        data = to_numpy(data)  # an array of another device: through the host, explicitly
    return xp.asarray(data, dtype=dtype)


def legacy_array(data, sizes, dtype, device="cpu"):
    """torch's legacy constructors, `FloatTensor(2, 3)` (a shape; torch leaves it uninitialised,
    here it is zeros) or `FloatTensor([1, 2])` (data), as an array of `dtype` on `device`."""
    xp = module_for(device)
    if isinstance(data, int) and not isinstance(data, bool):
        shape = (data,) + tuple(sizes)
        if not all(isinstance(size, int) and size >= 0 for size in shape):
            raise TypeError(f"Tensor(*sizes): sizes must be non-negative ints, got {shape}")
        return xp.zeros(shape, dtype)
    if sizes:
        raise TypeError(f"Tensor(data): give the data alone, or a shape as ints; got {data!r} and {sizes!r}")
    array = numpy.array(to_numpy(data) if hasattr(data, "shape") else data, dtype=dtype)
    if array.dtype == object:
        raise TypeError(f"Tensor: cannot make a tensor from {type(data).__name__}")
    return xp.asarray(array)


def as_ndarray(value):
    """Arrays stay as they are; numpy's 0-d results (numpy.float64 scalars) become 0-d arrays."""
    return numpy.asarray(value) if isinstance(value, numpy.generic) else value


def to_numpy(array):
    """A host numpy array with the data of `array` (a copy from a device, the array itself on the host)."""
    if type(array) is numpy.ndarray:
        return array
    if get_array_module(array) is not numpy:
        return array.get()
    return numpy.asarray(array)


def to_device(array, device):
    """`array` on `device`: itself if it is there already, else an explicit copy."""
    xp = module_for(device)
    if get_array_module(array) is xp:
        return array
    return xp.asarray(to_numpy(array))
