"""Tensor: an array, the gradient that backward leaves in it, and the Function that created it.

Arithmetic operators and methods such as `.sum()` or `.reshape()` are not written here: each op
lives next to its backward in `minigan/ops/`, and `minigan/ops/__init__.py` attaches them to
Tensor. That keeps this file about what a tensor *is*, and keeps imports pointing downwards.

The raw array is `tensor.array` (numpy's, or CuPy's on 'cuda'); minigan's own code reads it
there. `tensor.data` is torch's: the same storage as a Tensor outside the graph.
"""
import numpy

from minigan import backend
from minigan.errors import ShapeError


class VersionCounter:
    """How many times a storage was modified in place. Tensors that share storage as torch's views
    do (detach(), reshape, slicing) share one counter; a Function notes the versions of the tensors
    its backward will read, and backward refuses to read one that has changed since."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0

    def bump(self):
        self.value += 1


class Tensor:
    # Make numpy defer to Tensor's reflected operators: `array * tensor` calls Tensor.__rmul__.
    __array_ufunc__ = None

    grad_fn = None   # the Function that produced this tensor; None for leaves
    _hooks = None    # hooks on a leaf's gradient (register_hook)
    _base = None     # for a view in the graph (reshape, slicing): the tensor whose storage it shares
    _views = None    # weak references to this tensor's views in the graph, made by its view ops

    def __init__(self, data, *sizes, requires_grad=False):
        """Internally `Tensor(array)` wraps an array without copying it. Called as torch's legacy
        constructor, `Tensor(2, 3)` is an uninitialised (here: zero) float tensor of that shape and
        `Tensor([1, 2])` a float tensor of that data, in the default dtype."""
        if sizes or not hasattr(data, "dtype"):
            data = backend.legacy_array(data, sizes, backend.default_dtype())
        self.array = data
        self.grad = None
        self.requires_grad = False
        self._version_counter = VersionCounter()
        if requires_grad:
            self.requires_grad_(True)

    # -- what a tensor is -------------------------------------------------------------------
    @property
    def data(self):
        """torch's `.data`: the same storage, as a tensor that requires no grad and has a version
        counter of its own, so changes made through it (p.data.clamp_(-c, c)) are not seen by
        autograd's checks, exactly as in torch."""
        return Tensor(self.array)

    @data.setter
    def data(self, value):
        """`p.data = t` gives p the storage of t (a Tensor, or an array), keeping p the same object."""
        self.array = value.array if isinstance(value, Tensor) else backend.as_array(value)

    @property
    def shape(self):
        return self.array.shape

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def ndim(self):
        return self.array.ndim

    @property
    def device(self):
        return backend.DEVICES[backend.device_of(self.array)]

    @property
    def is_cuda(self):
        return backend.device_of(self.array) == "cuda"

    is_xpu = is_mps = False  # torch's other accelerators, which GAN scripts test for

    @property
    def is_leaf(self):
        """A leaf was made by the user, not by an op that recorded a graph; backward fills its .grad."""
        return self.grad_fn is None

    @property
    def generation(self):
        """Depth in the graph: leaves are 0, an op's output sits one above its deepest input."""
        return 0 if self.grad_fn is None else self.grad_fn.generation

    @property
    def _version(self):
        """torch's `t._version`: how many times this storage was modified in place."""
        return self._version_counter.value

    def size(self, dim=None):
        if dim is None:
            return self.shape
        if not -max(self.ndim, 1) <= dim < max(self.ndim, 1):
            raise IndexError(f"size: dim {dim} is out of range for a tensor with {self.ndim} dimensions")
        return self.shape[dim] if self.ndim else 1

    def dim(self):
        return self.ndim

    def numel(self):
        return int(self.array.size)

    nelement = numel

    def element_size(self):
        return self.array.itemsize

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    # -- gradient bookkeeping ---------------------------------------------------------------
    def requires_grad_(self, requires_grad=True):
        if requires_grad and not numpy.issubdtype(self.dtype, numpy.floating):
            raise RuntimeError(
                f"only floating-point tensors can require gradients, got dtype {self.dtype}; "
                "convert first, e.g. x.float() or x.double()")
        if not requires_grad and not self.is_leaf:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use .detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Sum d self / d leaf into the `.grad` of every leaf that requires grad.

        `gradient` is d loss / d self, needed when self is not a scalar. The graph is freed
        afterwards unless `retain_graph`; `create_graph` makes the gradients differentiable;
        `inputs` limits which leaves get a `.grad`.
        """
        from minigan import (
            autograd,  # same layer; autograd imports this module at load time
        )
        autograd.backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self):
        """The same storage, cut from the graph: gradients do not flow through the result. In-place
        changes to either are seen by the other's version checks, as in torch."""
        detached = Tensor(self.array)
        detached._version_counter = self._version_counter
        return detached

    def detach_(self):
        """Cut this tensor itself from the graph: it becomes a leaf that requires no grad."""
        if self._base is not None:
            raise RuntimeError("detach_: can't detach a view in place; use .detach() instead")
        self.grad_fn = None
        self.requires_grad = False
        return self

    def register_hook(self, hook):
        """Call `hook(grad)` when this tensor's gradient is computed; a returned tensor replaces it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self.grad_fn is None:
            self._hooks = (self._hooks or []) + [hook]
        else:  # the engine meets a non-leaf's gradient as the gradient of its Function's output
            self.grad_fn.hooks = (self.grad_fn.hooks or []) + [hook]
        return hook

    # -- leaving minigan --------------------------------------------------------------------
    def numpy(self):
        """The data as a numpy array (a copy from the GPU; the array itself on the CPU)."""
        if self.requires_grad:
            raise RuntimeError("can't call numpy() on a tensor that requires grad: use .detach().numpy()")
        return backend.to_numpy(self.array)

    def __array__(self, dtype=None, copy=None):
        """numpy.asarray(t), as torch allows it: host tensors that require no grad."""
        if self.requires_grad:
            raise RuntimeError("can't convert a tensor that requires grad to a numpy array: use "
                               "t.detach().numpy()")
        if backend.device_of(self.array) != "cpu":
            raise TypeError("can't convert a 'cuda' tensor to a numpy array: use t.cpu() to copy it to "
                            "the host first")
        return numpy.array(self.array, dtype=dtype, copy=copy) if copy else numpy.asarray(self.array, dtype)

    def item(self):
        if self.array.size != 1:
            raise ShapeError(f"item(): only a tensor with one element can be converted, got shape {self.shape}")
        return self.array.item()

    def tolist(self):
        return backend.to_numpy(self.array).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an index, got "
                            f"dtype {self.dtype} and shape {self.shape}")
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def __repr__(self):
        body = numpy.array2string(backend.to_numpy(self.array), separator=", ", prefix="tensor(")
        extras = []
        if self.dtype != backend.default_dtype() and numpy.issubdtype(self.dtype, numpy.floating):
            extras.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{type(self.grad_fn).__name__}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # `==` gives an elementwise tensor (minigan/ops), so hashing must not use it: by identity, as torch
    __hash__ = object.__hash__
