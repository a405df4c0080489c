"""The graph's two kinds of node: Tensor, a value, and Function, the op that made one; and the
switch that says whether ops record the graph at all (no_grad).

    y = Tanh()(x)     # Function.__call__: forward on x's array, then, if x requires grad,
                      # y.grad_fn = that Tanh, which keeps x as its input

The engine that walks this graph backwards (backward(), grad()) is minigan/autograd.py; it attaches
`Tensor.backward`. Arithmetic operators and methods such as `.sum()` are not written here either:
each op lives with its derivative in minigan/ops/, and minigan/ops/__init__.py attaches them. That
keeps this file about what the graph *is*, and keeps imports pointing downwards.

The raw array is `tensor.array` (numpy's, or CuPy's on 'cuda'); minigan's own code reads it there.
`tensor.data` is torch's: the same storage as a Tensor outside the graph.
"""
import contextlib
import functools
import weakref

import numpy

from minigan import anomaly, backend, tracing
from minigan.cuda import kernels
from minigan.errors import HostDeviceError, ShapeError


class VersionCounter:
    """How many times a storage was modified in place. Tensors that share storage as torch's views
    do (detach(), reshape, slicing) share one counter; a Function notes the versions of the tensors
    its backward will read, and refuses to run on one that has changed since."""

    value = 0  # until the first in-place change

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

    # backward(gradient=None, retain_graph=None, create_graph=False, inputs=None): the engine's,
    # attached by minigan/autograd.py

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


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()


# --------------------------------------------------------------------------------------------
# Grad mode: whether ops record a graph
# --------------------------------------------------------------------------------------------
_grad_enabled = True
running_backward = None  # the Function whose backward the engine is running: ops made now belong to it


def is_grad_enabled():
    return _grad_enabled


class _GradMode:
    """Graph recording set to `mode` inside a `with` block or a decorated function."""

    def __init__(self, mode):
        self.mode = bool(mode)

    def __enter__(self):
        global _grad_enabled
        self.previous = _grad_enabled
        _grad_enabled = self.mode

    def __exit__(self, *exc_info):
        global _grad_enabled
        _grad_enabled = self.previous

    def __call__(self, function):
        mode = self.mode

        @functools.wraps(function)
        def with_grad_mode(*args, **kwargs):
            with _GradMode(mode):  # a fresh context per call, so recursive calls nest
                return function(*args, **kwargs)
        return with_grad_mode


@contextlib.contextmanager
def backward_pass(create_graph):
    """The engine's walk: ops record a graph only with create_graph, and those recorded outside any
    one op's backward are the engine's own sums of gradients (in_backward_of = "backward")."""
    global _grad_enabled, running_backward
    outer = _grad_enabled, running_backward
    _grad_enabled, running_backward = bool(create_graph), "backward"
    try:
        yield
    finally:
        _grad_enabled, running_backward = outer


class no_grad(_GradMode):
    """Ops inside build no graph: for evaluation, sampling and optimizer updates."""

    def __init__(self):
        super().__init__(False)


class enable_grad(_GradMode):
    """Record a graph even inside `no_grad`."""

    def __init__(self):
        super().__init__(True)


class set_grad_enabled(_GradMode):
    """Recording on or off inside a `with` block or a decorated function; called on its own,
    `set_grad_enabled(False)` switches it from then on, as torch.set_grad_enabled does."""

    def __init__(self, mode):
        global _grad_enabled
        super().__init__(mode)
        self.previous = _grad_enabled
        _grad_enabled = self.mode

    def __enter__(self):
        pass  # the mode was switched when this was made; __exit__ restores the one before

    def __call__(self, function):
        global _grad_enabled
        _grad_enabled = self.previous  # as a decorator it acts inside the function only
        return super().__call__(function)


# --------------------------------------------------------------------------------------------
# Function: one node of the graph
# --------------------------------------------------------------------------------------------
def constant_like(value, reference):
    """A Python number or array as a Tensor that may meet `reference` in an op.

    Numbers take the reference's dtype (as torch treats scalars), or the default float dtype
    when a float meets an integer tensor, and its device. Arrays stay on their device: a host
    array meeting a 'cuda' tensor is an error of the op, not a silent copy in every step.
    """
    if isinstance(value, Tensor):
        return value
    xp = backend.get_array_module(reference.array)
    if isinstance(value, (bool, int, float)):
        dtype = reference.dtype
        if isinstance(value, float) and dtype.kind not in "fc":
            dtype = backend.default_dtype()
        return Tensor(xp.asarray(value, dtype=dtype))
    if isinstance(value, numpy.generic):  # a numpy number keeps its dtype, as a 0-d array would
        return Tensor(xp.asarray(value))
    return Tensor(backend.as_array(value))


class Function:
    """One op. Subclasses define:

    - `forward(*arrays) -> array`: the value, on raw arrays of the backend;
    - `backward(grad_output) -> gradient or tuple of gradients`, one per input (None where an
      input needs none), written with Tensor ops so that it is differentiable in turn.

    The rule that keeps every derivative exact: `backward` reads its inputs as Tensors
    (`self.inputs`) and its output through `self.output()`, never as cached raw arrays of
    something differentiable, which would be constants to the next derivative and silently make
    it wrong. (Piecewise-constant masks, relu's `x > 0`, are the exception: their derivative is
    zero anyway.) A fast first derivative is therefore the *forward* of a `...Grad` Function
    (TanhGrad, Conv2dGradWeight): arrays saved by the forward are handed to it as values, and its
    own backward is again made of Tensor ops.

    What backward reads must not change in between: the versions of those tensors are noted
    when the op is recorded, and backward refuses to run on a tensor modified in place since.
    """

    generation = 0
    inputs = None
    saves_inputs = True   # False for ops whose backward reads only their inputs' shapes (add, reshape)
    saves_output = False  # True for ops whose backward reads their output (exp, tanh, sigmoid)
    is_view = False       # True for ops whose output may share its input's storage (reshape, slicing)
    computes_in_float = False  # True for ops of floats only (exp, tanh): integer inputs become floats first
    kernel = None  # a method computing forward's result in one CUDA kernel, for ops where forward's array calls
    # would be several kernels on a GPU; it runs instead of forward on CuPy arrays (cuda.kernels.run)
    in_backward_of = None  # the Function whose backward recorded this op (with create_graph), else None

    def __call__(self, *inputs):
        # 1. promote: numbers to constant tensors, integers to floats where the op needs floats
        if not all(isinstance(x, Tensor) for x in inputs):
            reference = next(x for x in inputs if isinstance(x, Tensor))
            inputs = tuple(constant_like(x, reference) for x in inputs)
        if self.computes_in_float and inputs[0].array.dtype.kind != "f":
            inputs = (Tensor(inputs[0].array.astype(backend.default_dtype())),) + inputs[1:]
        # 2. forward, on the arrays
        arrays = [x.array for x in inputs]
        output = Tensor(self._forward(arrays))
        # 3. record: the output remembers this op, and this op its inputs
        recording = _grad_enabled and any(x.requires_grad for x in inputs)
        if self.is_view and backend.shares_memory(output.array, arrays[0]):
            _make_view(output, inputs[0], recording)
        if recording:
            self.record(inputs, output)
        return output

    def _forward(self, arrays):
        """forward(*arrays) as an array, with the instruments' seams: the devices checked, the
        tape of minigan.trace() and detect_anomaly's check when they are on."""
        first = type(arrays[0])
        if any(type(array) is not first for array in arrays):  # cheap: only arrays of different types can be on different devices
            backend.check_same_device(self.name, arrays)
        forward = self.forward
        if self.kernel is not None and type(arrays[0]) is not numpy.ndarray:  # on a GPU: the kernel
            forward = functools.partial(kernels.run, self.kernel, self.forward)
        try:
            output = forward(*arrays) if tracing.active is None else tracing.active.call(self.name, forward, *arrays)
        except HostDeviceError as error:  # the stand-in device caught a host/device mix-up
            raise HostDeviceError(f"{self.name}: {error}") from error
        if type(output) is not numpy.ndarray:
            output = backend.as_ndarray(output)  # numpy's 0-d results are scalars: arrays again
        if anomaly.active:
            self.created_at = anomaly.creation_site()
            anomaly.check_forward(self, arrays, output, running_backward)
        return output

    def record(self, inputs, output):
        """Make this op `output`'s grad_fn, keeping what its backward will need: the inputs it reads,
        and of the others only their place in the graph (an edge), so that their values can go."""
        self.inputs = inputs
        self.needs_input_grad = tuple(x.requires_grad for x in inputs)
        saved = self.saved_positions() if self.saves_inputs else ()
        if len(saved) < len(inputs):
            self.inputs = tuple(x if position in saved or x.grad_fn is None else Edge(x, self)
                                for position, x in enumerate(inputs))
        self.generation = 1 + max(x.generation for x in inputs)
        self.hooks = None
        self.in_backward_of = running_backward
        if self.saves_inputs:
            self.saved_versions = tuple(x._version_counter.value for x in inputs)
        if self.saves_output:
            self.save_output(output)
        output.requires_grad = True
        output.grad_fn = self

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, grad_output):
        raise NotImplementedError

    def save_output(self, output):
        """Keep the output's array, and its version, for backward (an in-place op that takes the
        output's place in the graph saves the tensor it wrote into instead)."""
        self.output_data = output.array
        self.output_counter = output._version_counter
        self.output_version = output._version_counter.value

    def output(self):
        """The output as a Tensor of the graph, rebuilt from its data so that no reference cycle
        output -> grad_fn -> output keeps arrays alive; gradients reaching it flow into this node."""
        output = Tensor(self.output_data)
        output._version_counter = self.output_counter
        output.requires_grad = True
        output.grad_fn = self
        return output

    def saved_positions(self):
        """The positions of the inputs whose values backward reads: all of them, or none for an
        op that reads only shapes (saves_inputs = False). A product overrides this: each factor's
        gradient reads only the other factor (other_factors)."""
        return range(len(self.inputs)) if self.saves_inputs else ()

    def check_saved_versions(self):
        """Refuse to differentiate with values that were modified in place after this op saved
        them: the gradient would silently be that of other numbers (torch refuses too)."""
        for position in self.saved_positions() if self.saves_inputs else ():
            x, version = self.inputs[position], self.saved_versions[position]
            if x._version_counter.value != version:
                raise _modified_error(self, f"input {position}", x.shape, x._version_counter.value, version)
        if self.saves_output and self.output_counter.value != self.output_version:
            raise _modified_error(self, "output", self.output_data.shape, self.output_counter.value,
                                  self.output_version)

    def release(self):
        """Free the graph below this node (backward without retain_graph)."""
        self.inputs = None
        self.output_data = None

    @property
    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{self.name}>"


class Edge(Tensor):
    """An input of a Function whose backward does not read its value: where its gradient goes
    (grad_fn) and what it must look like (shape, dtype, device), without the array, so that the
    graph does not keep a value nobody reads alive (the activations between layers, a frozen
    layer's input). Torch's graph holds such inputs as edges too."""

    def __init__(self, tensor, consumer):
        self.grad_fn, self.requires_grad, self.grad = tensor.grad_fn, tensor.requires_grad, None
        self._shape, self._dtype, self._device = tensor.shape, tensor.dtype, tensor.device
        self._consumer = consumer.name

    @property
    def array(self):
        raise RuntimeError(f"{self._consumer}.backward read the value of an input it does not save: "
                           "add its position to the op's saved_positions")

    shape = property(lambda self: self._shape)
    dtype = property(lambda self: self._dtype)
    ndim = property(lambda self: len(self._shape))
    device = property(lambda self: self._device)


def other_factors(needs_input_grad):
    """saved_positions of a product of two factors (mul, matmul, linear, conv): each factor's
    gradient reads the other factor, so only the other factors of the gradients asked for."""
    need_a, need_b = needs_input_grad
    return ((1,) if need_a else ()) + ((0,) if need_b else ())


def _modified_error(fn, which, shape, version, expected):
    return RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: the {which} of {fn.name} (a tensor of shape {tuple(shape)}) is at version "
        f"{version}; expected version {expected} instead. Use the out-of-place form of the op that "
        "changed it (x = x + y instead of x += y, x.clamp(...) instead of x.clamp_(...)), or clone it "
        "first")


def _make_view(view, base, recording):
    """`view` shares `base`'s storage: it shares its version counter, and in the graph it
    remembers its base (an in-place op on either is then refused where its graph would go stale)."""
    view._version_counter = base._version_counter
    if recording:
        root = base._base if base._base is not None else base
        view._base = root
        root._views = (root._views or []) + [weakref.ref(view)]


def has_views_in_graph(tensor):
    """True while a view made of `tensor` in a recorded graph is still alive."""
    return tensor._views is not None and any(view() is not None for view in tensor._views)


def rebase(tensor, result):
    """After an in-place op wrote `result`'s values into `tensor`'s storage, `tensor` takes
    `result`'s place in the graph: gradients reaching it flow into the op that made `result`."""
    fn = result.grad_fn
    tensor.grad_fn, tensor.requires_grad = fn, result.requires_grad
    if fn is not None and fn.saves_output:
        fn.save_output(tensor)
