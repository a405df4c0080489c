"""What every custom CUDA kernel shares: its source for each dtype, compile-once, launch, and `run`.

A kernel is written once in CUDA C++ over an element type `T`. `Kernel.source(dtype)` puts
`typedef float T;` (or double) in front of it; `Kernel.compiled(dtype)` turns that into a
`cupy.RawKernel` the first time it is needed and keeps it for the life of the process;
`Kernel.launch` runs it with blocks of `BLOCK` threads, each thread striding over the work items.

Every kernel computes what some op computes with array calls on the CPU (an activation's
derivative, im2col, a whole Adam step): the op keeps that plain array code, and `run(launcher,
plain, *arrays)` picks the kernel for CuPy arrays and the plain code for any other array. On a
device that stands in for a GPU in tests (its array module offers `one_launch()`), the plain code
counts as the one launch the kernel would be.

Nothing here touches a GPU until a kernel is called on CuPy arrays: on a machine without one the
sources still compile to PTX with NVRTC, and tests/test_kernels.py compiles every kernel in
`KERNELS` that way.
"""
import sys

import contextlib

from minigan.backend import get_array_module

BLOCK = 256  # threads per block; the block reductions in norm.py rely on it being a power of two
# A grid-stride loop needs no more blocks than the GPU runs at once (an H100 holds ~1000 of them).
MAX_BLOCKS = 4096
# --fmad=false: no contraction of a * b + c into one fused multiply-add, so a kernel rounds
# exactly as its twin's sequence of array operations does.
COMPILE_OPTIONS = ("-std=c++17", "--fmad=false")

_CTYPES = {"float32": "float", "float64": "double"}

_PREAMBLE = f"#define BLOCK {BLOCK}  // threads per block, as Kernel.launch launches them\n" + r"""
// Thread t of the grid takes work items t, t + (threads in the grid), ...: any count, any grid.
#define GRID_STRIDE_LOOP(index, count)                                                    \
    for (long long index = blockIdx.x * (long long)blockDim.x + threadIdx.x;              \
         index < (count); index += (long long)blockDim.x * gridDim.x)
"""

KERNELS = []  # every Kernel ever defined: the NVRTC test compiles each one for float and double


def dtype_name(dtype):
    """'float32' for numpy.dtype('float32'), a CuPy array's dtype, or the string itself."""
    return getattr(dtype, "name", dtype)


class Kernel:
    """One CUDA kernel: `body` defines `extern "C" __global__ void <name>(...)` over the type T."""

    def __init__(self, name, body):
        self.name, self.body = name, body
        self._compiled = {}  # dtype name -> cupy.RawKernel
        KERNELS.append(self)

    def __repr__(self):
        return f"Kernel({self.name!r})"

    def source(self, dtype):
        """The complete CUDA C++ source for arrays of `dtype` (float32 or float64)."""
        name = dtype_name(dtype)
        if name not in _CTYPES:
            raise TypeError(f"CUDA kernel {self.name}: written for float32 and float64, got {name}")
        return f"typedef {_CTYPES[name]} T;\n{_PREAMBLE}{self.body}"

    def compiled(self, dtype):
        """The kernel as a `cupy.RawKernel` for `dtype`, made once per process (CuPy compiles it
        on its first launch and keeps the binary in its on-disk cache)."""
        name = dtype_name(dtype)
        if name not in self._compiled:
            import cupy  # only the GPU path needs CuPy
            self._compiled[name] = cupy.RawKernel(self.source(name), self.name, options=COMPILE_OPTIONS)
        return self._compiled[name]

    def launch(self, dtype, args, items, items_per_block=BLOCK):
        """Run the kernel on `items` work items, `items_per_block` to a block (BLOCK for one item per
        thread; 1 for one item per block, as a block reduction takes), in at most MAX_BLOCKS blocks.

        `args` must match the C parameters one for one: arrays (C-contiguous, of `dtype`) or None
        for pointers, Python ints for `long long`, `dtype.type(value)` for `T`.
        """
        if items == 0:
            return
        blocks = min(-(-items // items_per_block), MAX_BLOCKS)
        self.compiled(dtype)((blocks,), (BLOCK,), tuple(args))


def is_cupy_array(array):
    """True for a CuPy array; CuPy is never imported for the question (no CuPy loaded, no CuPy arrays)."""
    cupy = sys.modules.get("cupy")
    return cupy is not None and isinstance(array, cupy.ndarray)


def _check_float_arrays(name, args, kwargs):
    """The kernels are written for float32 or float64, all arrays of one call sharing the dtype."""
    arrays = [value for value in (*args, *kwargs.values()) if hasattr(value, "dtype") and hasattr(value, "shape")]
    dtypes = sorted({dtype_name(array.dtype) for array in arrays})
    if len(dtypes) != 1 or dtypes[0] not in _CTYPES:
        raise TypeError(f"{name}: expects float32 or float64 arrays, all of one dtype; got {', '.join(dtypes)}")


def run(launch, plain, *args, **kwargs):
    """`launch(*args)`, the kernel, on CuPy arrays; `plain(*args)`, the same computation as array
    calls, on any other. Both take the same arguments, float32 or float64 arrays of one dtype."""
    _check_float_arrays(launch.__name__, args, kwargs)
    if is_cupy_array(args[0]):
        return launch(*args, **kwargs)
    one_launch = getattr(get_array_module(args[0]), "one_launch", contextlib.nullcontext)
    with one_launch():
        return plain(*args, **kwargs)


def periodic(array, shape):
    """`array`, broadcast to `shape`, as a contiguous array and a period p: element i of the
    broadcast array is element i % p of the result. An array that broadcasts only along leading
    axes (a scalar, a per-column vector) stays as small as it is; any other is materialised."""
    xp = get_array_module(array)
    significant = tuple(array.shape)
    while significant and significant[0] == 1:
        significant = significant[1:]
    if significant != tuple(shape)[len(shape) - len(significant):]:
        array = xp.broadcast_to(array, shape)
    array = xp.ascontiguousarray(array)
    return array, array.size


def check_broadcasts_to(op, name, array, shape):
    """`array` (or None) must broadcast to `shape` without enlarging it."""
    if array is None:
        return
    fits = array.ndim <= len(shape) and all(
        size in (1, target) for size, target in zip(array.shape, tuple(shape)[len(shape) - array.ndim:]))
    if not fits:
        raise ValueError(f"{op}: {name} of shape {tuple(array.shape)} does not broadcast to shape {tuple(shape)}")


def check_same_shape(op, names_and_arrays):
    """All given arrays must have the shape of the first."""
    (first_name, first), *rest = names_and_arrays
    for name, array in rest:
        if tuple(array.shape) != tuple(first.shape):
            raise ValueError(f"{op}: {name} has shape {tuple(array.shape)}, but {first_name} has shape "
                             f"{tuple(first.shape)}; they must be equal")
