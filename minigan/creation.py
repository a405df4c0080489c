"""Making tensors: tensor(), zeros, ones, full, arange, rand, randn and friends, on any device.

Every function takes `device=` ('cpu' by default, or 'cuda') and makes its array with that
device's library; the `*_like` functions default to the device of the tensor they copy.
"""
import numpy

from minigan import backend, cuda, random
from minigan.tensor import Tensor


def _shape(size):
    """zeros(2, 3) and zeros((2, 3)) both mean shape (2, 3)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def _float_dtype(dtype):
    return backend.default_dtype() if dtype is None else numpy.dtype(dtype)


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new tensor holding a copy of `data`, on `device` (by default where `data` is: the host
    for lists and numbers).

    Python floats become the default dtype (float32); arrays keep theirs, so float64 input stays
    float64; Python ints become int64 and bools bool, as in torch.
    """
    if isinstance(data, Tensor):
        data = data.array
    xp = backend.module_for(backend.device_of(data) if device is None else device)
    if hasattr(data, "dtype"):  # an array (or a numpy scalar): copied, on `device`
        if backend.get_array_module(data) is not xp:
            data = backend.to_numpy(data)
        return Tensor(xp.array(data, dtype=dtype, copy=True), requires_grad=requires_grad)
    array = numpy.array(data, dtype=dtype)  # nested lists and numbers: numpy reads them on the host
    if dtype is None and array.dtype.kind == "f":
        array = array.astype(backend.default_dtype())
    if array.dtype == object:
        raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} (ragged or non-numeric data)")
    return Tensor(xp.asarray(array), requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None):
    """`data` as a tensor, sharing memory with an array of the right dtype and device (torch.as_tensor)."""
    if (isinstance(data, Tensor) and (dtype is None or data.dtype == dtype)
            and (device is None or backend.check_device(device) == data.device)):
        return data
    if isinstance(data, Tensor):
        data = data.array
    if hasattr(data, "dtype"):
        return Tensor(backend.as_array(data, dtype=dtype, device=device))
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array):
    return Tensor(array)


def zeros(*size, dtype=None, requires_grad=False, device=None):
    xp = backend.module_for(device)
    return Tensor(xp.zeros(_shape(size), _float_dtype(dtype)), requires_grad=requires_grad)


def ones(*size, dtype=None, requires_grad=False, device=None):
    xp = backend.module_for(device)
    return Tensor(xp.ones(_shape(size), _float_dtype(dtype)), requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    xp = backend.module_for(device)
    if dtype is None and isinstance(fill_value, bool):
        dtype = numpy.bool_
    elif dtype is None and isinstance(fill_value, int):
        dtype = numpy.int64
    return Tensor(xp.full(_shape((size,)), fill_value, _float_dtype(dtype)), requires_grad=requires_grad)


def zeros_like(x, dtype=None, requires_grad=False, device=None):
    return zeros(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad, device=device or x.device)


def ones_like(x, dtype=None, requires_grad=False, device=None):
    return ones(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad, device=device or x.device)


def full_like(x, fill_value, dtype=None, requires_grad=False, device=None):
    return full(x.shape, fill_value, dtype=dtype or x.dtype, requires_grad=requires_grad, device=device or x.device)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    """torch.arange: integers give int64, any float argument gives the default float dtype."""
    xp = backend.module_for(device)
    if end is None:
        start, end = 0, start
    if dtype is None and any(isinstance(v, float) for v in (start, end, step)):
        dtype = backend.default_dtype()
    return Tensor(xp.arange(start, end, step, dtype=dtype or numpy.int64), requires_grad=requires_grad)


def rand(*size, generator=None, dtype=None, requires_grad=False, device=None):
    """Uniform samples in [0, 1) from the seeded generator of `device` (or `generator`)."""
    samples = random.generator(device, generator).random(_shape(size), dtype=_float_dtype(dtype))
    return Tensor(samples, requires_grad=requires_grad)


def randn(*size, generator=None, dtype=None, requires_grad=False, device=None):
    """Standard normal samples from the seeded generator of `device` (or `generator`)."""
    samples = random.generator(device, generator).standard_normal(_shape(size), dtype=_float_dtype(dtype))
    return Tensor(samples, requires_grad=requires_grad)


def rand_like(input, dtype=None, requires_grad=False, device=None):
    return rand(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad, device=device or input.device)


def randn_like(input, dtype=None, requires_grad=False, device=None):
    return randn(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad, device=device or input.device)


def randint(low, high=None, size=(), generator=None, dtype=None, device=None):
    """Integers in [low, high); `randint(high, size)` as torch's randint(high, size) is [0, high)."""
    if high is None or (isinstance(high, (tuple, list)) and size == ()):
        low, high, size = 0, low, (size if high is None else high)
    draws = random.generator(device, generator).integers(low, high, size=tuple(size), dtype=dtype or numpy.int64)
    return Tensor(draws)


def randperm(n, generator=None, device=None):
    return Tensor(random.permutation(n, device, generator))


def normal(mean, std=1.0, size=None, generator=None):
    """torch.normal: samples of N(mean, std²); mean and std tensors (broadcast together) or numbers
    (then `size` gives the shape). Not differentiable in mean or std, as in torch."""
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if tensors:
        xp = backend.get_array_module(tensors[0].array)
        mean_array, std_array = (t.array if isinstance(t, Tensor) else t for t in (mean, std))
        shape = xp.broadcast_shapes(*(t.shape for t in tensors))
        dtype = tensors[0].dtype
        device = tensors[0].device
    elif size is None:
        raise TypeError("normal: give mean or std as a tensor, or a size")
    else:
        mean_array, std_array, shape = mean, std, _shape((size,))
        dtype, device = backend.default_dtype(), None
    if numpy.any(numpy.asarray(backend.to_numpy(std_array)) < 0):
        raise ValueError(f"normal: expects all elements of std >= 0.0, got {std}")
    draws = random.generator(device, generator).standard_normal(shape)
    return Tensor((mean_array + std_array * draws).astype(dtype))


def bernoulli(input, p=None, generator=None):
    """torch.bernoulli: 1 with probability input (or p), else 0, in input's dtype."""
    probabilities = input.array if p is None else p
    draws = random.generator(input.device, generator).random(input.shape)
    return Tensor((draws < probabilities).astype(input.dtype))


def multinomial(input, num_samples, replacement=False, generator=None):
    """torch.multinomial: `num_samples` category indices per row of the (unnormalised) weights
    `input` (1-D or 2-D); without replacement each category at most once (Gumbel top-k, one
    vectorised draw), with it by inverse sampling of the cumulative weights."""
    weights = input.array.astype(numpy.float64)
    xp = backend.get_array_module(weights)
    rows = weights.reshape(-1, weights.shape[-1])
    if (rows < 0).any() or not xp.isfinite(rows).all() or (rows.sum(axis=1) <= 0).any():
        raise ValueError("multinomial: invalid probability distribution (negative, infinite or NaN weights, or "
                         "a row summing to 0)")
    if not replacement and num_samples > int((rows > 0).sum(axis=1).min()):
        raise ValueError(f"multinomial: cannot sample n_sample ({num_samples}) > prob_dist.size(-1) without "
                         "replacement from a row with fewer nonzero weights")
    rng = random.generator(input.device, generator)
    if replacement:
        cumulative = rows.cumsum(axis=1)
        uniform = rng.random((rows.shape[0], num_samples)) * cumulative[:, -1:]
        picks = (uniform[:, :, None] >= cumulative[:, None, :]).sum(axis=2)
    else:
        gumbel = -xp.log(-xp.log(rng.random(rows.shape)))
        keys = xp.where(rows > 0, xp.log(xp.where(rows > 0, rows, 1)) + gumbel, -xp.inf)
        picks = xp.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    return Tensor(picks.reshape(weights.shape[:-1] + (num_samples,)).astype(numpy.int64))


def eye(n, m=None, dtype=None, requires_grad=False, device=None):
    xp = backend.module_for(device)
    return Tensor(xp.eye(n, n if m is None else m, dtype=_float_dtype(dtype)), requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    """`steps` evenly spaced values from start to end, as torch computes them: from the start for
    the first half, from the end for the second (so both ends are exact)."""
    xp = backend.module_for(device)
    index = xp.arange(steps, dtype=numpy.float64)
    step = (end - start) / (steps - 1) if steps > 1 else 0.0
    halfway = steps // 2
    values = xp.where(index < halfway, start + step * index, end - step * (steps - 1 - index))
    return Tensor(values.astype(_float_dtype(dtype)), requires_grad=requires_grad)


def _new(make):
    """x.new_zeros(size) and friends: make(size) with x's dtype and device unless given."""
    def new(self, *size, dtype=None, device=None, requires_grad=False, **options):
        return make(_shape(size), dtype=dtype or self.dtype, device=device or self.device,
                    requires_grad=requires_grad, **options)
    return new


def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


NEW_METHODS = {
    "new_zeros": _new(zeros), "new_ones": _new(ones), "new_empty": _new(zeros), "new_tensor": new_tensor,
    "new_full": lambda self, size, fill_value, dtype=None, device=None, requires_grad=False: full(
        size, fill_value, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad),
}


# --------------------------------------------------------------------------------------------
# torch's legacy tensor types: FloatTensor, LongTensor, cuda.FloatTensor, ...
# --------------------------------------------------------------------------------------------
class LegacyTensorType(type):
    """A legacy tensor type, as GAN scripts written for torch < 0.4 use them:

        Tensor = minigan.cuda.FloatTensor if cuda else minigan.FloatTensor
        valid = Tensor(imgs.size(0), 1).fill_(1.0)     # a shape: zeros here, uninitialised in torch
        z = Tensor(numpy.random.normal(0, 1, (n, 100)))  # data, converted to the type's dtype
        real_imgs = imgs.type(Tensor)                   # a conversion
        isinstance(z, minigan.FloatTensor)              # True: the dtype and device match
    """

    def __call__(cls, *args, device=None):
        if device is not None and backend.check_device(device) != cls.device:
            raise ValueError(f"{cls.type_name}: device {device!r} is not this type's device, {cls.device!r}")
        if len(args) == 1 and isinstance(args[0], Tensor):
            return args[0].type(cls)
        data = args[0] if args else 0
        return Tensor(backend.legacy_array(data, args[1:], cls.dtype, cls.device))

    def __instancecheck__(cls, instance):
        return isinstance(instance, Tensor) and instance.dtype == cls.dtype and instance.device == cls.device

    def __repr__(cls):
        return f"<class '{cls.type_name}'>"


_LEGACY_NAMES = {"FloatTensor": numpy.float32, "DoubleTensor": numpy.float64, "HalfTensor": numpy.float16,
                 "LongTensor": numpy.int64, "IntTensor": numpy.int32, "ShortTensor": numpy.int16,
                 "CharTensor": numpy.int8, "ByteTensor": numpy.uint8, "BoolTensor": numpy.bool_}
LEGACY_TYPES = {(device, name): LegacyTensorType(name, (), {
    "dtype": numpy.dtype(dtype), "device": device,
    "type_name": f"torch.{name}" if device == "cpu" else f"torch.cuda.{name}"})
    for device in ("cpu", "cuda") for name, dtype in _LEGACY_NAMES.items()}
FloatTensor, DoubleTensor, LongTensor, IntTensor, ByteTensor, BoolTensor = (
    LEGACY_TYPES["cpu", name] for name in ("FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "ByteTensor",
                                            "BoolTensor"))
for (_device, _name), _legacy in LEGACY_TYPES.items():
    if _device == "cuda":
        setattr(cuda, _name, _legacy)  # minigan.cuda.FloatTensor, as torch.cuda.FloatTensor


def legacy_type_of(tensor):
    """The legacy type of a tensor's dtype and device (its `.type()` is that type's name)."""
    for legacy in LEGACY_TYPES.values():
        if isinstance(tensor, legacy):
            return legacy
    raise TypeError(f"type(): dtype {tensor.dtype} has no torch type name")


def legacy_type_named(name):
    """'torch.FloatTensor', 'torch.cuda.LongTensor', ... as the legacy type."""
    device, _, short = name.removeprefix("torch.").rpartition(".")
    try:
        return LEGACY_TYPES["cuda" if device == "cuda" else "cpu", short]
    except KeyError:
        raise ValueError(f"type({name!r}): unknown tensor type; expected e.g. 'torch.FloatTensor' or "
                         "'torch.cuda.LongTensor'") from None
