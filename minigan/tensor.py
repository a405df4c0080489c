"""Tensor: an array, the gradient that backward leaves in it, and the Function that created it.

Arithmetic operators and methods such as `.sum()` or `.reshape()` are not written here: each op
lives next to its backward in `minigan/ops/`, and `minigan/ops/__init__.py` attaches them to
Tensor. That keeps this file about what a tensor *is*, and keeps imports pointing downwards.
"""
import numpy

from minigan import backend


class Tensor:
    # Make numpy defer to Tensor's reflected operators: `array * tensor` calls Tensor.__rmul__.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False):
        self.data = data
        self.grad = None
        self.grad_fn = None  # the Function that produced this tensor; None for leaves
        self.requires_grad = False
        self._hooks = None
        if requires_grad:
            self.requires_grad_(True)

    # -- what a tensor is -------------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def device(self):
        return backend.device_of(self.data)

    @property
    def is_leaf(self):
        """A leaf was made by the user, not by an op that recorded a graph; backward fills its .grad."""
        return self.grad_fn is None

    @property
    def generation(self):
        """Depth in the graph: leaves are 0, an op's output sits one above its deepest input."""
        return 0 if self.grad_fn is None else self.grad_fn.generation

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self):
        return self.ndim

    def numel(self):
        return int(self.data.size)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

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

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Sum d self / d leaf into the `.grad` of every leaf that requires grad.

        `gradient` is d loss / d self, needed when self is not a scalar. The graph is freed
        afterwards unless `retain_graph`; `create_graph` makes the gradients differentiable.
        """
        from minigan import autograd  # same layer; autograd imports this module at load time
        autograd.backward(self, gradient, retain_graph, create_graph)

    def detach(self):
        """The same data, cut from the graph: gradients do not flow through the result."""
        return Tensor(self.data)

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
        return backend.to_numpy(self.data)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only a tensor with one element can be converted, got shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def __repr__(self):
        body = numpy.array2string(backend.to_numpy(self.data), separator=", ", prefix="tensor(")
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

    __hash__ = object.__hash__
