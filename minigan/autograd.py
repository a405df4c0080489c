"""Reverse-mode autodiff: Function (one op of the graph), grad mode, and the backward engine.

How it works, in four steps:
1. Every op is a Function. Calling it computes `forward` on raw arrays and, when an input needs a
   gradient, records itself as the output's `grad_fn` together with its inputs.
2. `backward` of a Function receives the gradient of its output as a *Tensor* and returns one
   gradient Tensor per input, computed with ordinary Tensor ops.
3. The engine walks the recorded graph from the output towards the leaves, highest generation
   first, so each Function runs once, after every gradient of its output has been summed.
4. With `create_graph=True` the engine runs those backward ops with recording on, so the
   gradient is itself a graph that can be differentiated again: double backward for free.
"""
import contextlib
import functools
import heapq
import itertools
import operator
import weakref

import numpy

from minigan import anomaly, backend, tracing
from minigan.tensor import Tensor

# --------------------------------------------------------------------------------------------
# Grad mode: whether ops record a graph
# --------------------------------------------------------------------------------------------
_grad_enabled = True
_recording_in = None  # where ops are recorded now: None in a forward pass, "Exp.backward" in that backward


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


class _RecordingIn:
    """Inside, every Function recorded notes `where` it was made ("Exp.backward"), so that a
    drawing of the graph (minigan.viz) can tell the ops of a backward from those of the forward."""

    def __init__(self, where):
        self.where = where

    def __enter__(self):
        global _recording_in
        self.outer, _recording_in = _recording_in, self.where

    def __exit__(self, *exc_info):
        global _recording_in
        _recording_in = self.outer


_NOT_RECORDING = contextlib.nullcontext()


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

    `backward` reads its inputs as Tensors (`self.inputs`) and its output through
    `self.output()`, never as cached raw arrays of something differentiable: a raw array would
    be a constant to the second derivative and silently make it wrong. Piecewise-constant masks
    (ReLU's `x > 0`) are the exception: their derivative is zero anyway.

    What backward reads must not change in between: the versions of those tensors are noted
    when the op is recorded, and backward refuses to run on a tensor modified in place since.
    """

    generation = 0
    inputs = None
    saves_inputs = True   # False for ops whose backward reads only their inputs' shapes (add, reshape)
    saves_output = False  # True for ops whose backward reads their output (exp, tanh, sigmoid)
    is_view = False       # True for ops whose output may share its input's storage (reshape, slicing)
    built_in_backward = None  # "Exp.backward" if Exp's backward recorded this op; "backward": the engine's sums

    def __call__(self, *inputs):
        reference = next(x for x in inputs if isinstance(x, Tensor))
        inputs = tuple(constant_like(x, reference) for x in inputs)
        arrays = [x.array for x in inputs]
        first = type(arrays[0])
        for array in arrays:
            if type(array) is not first:  # cheap: only arrays of different types can be on different devices
                backend.check_same_device(self.name, arrays)
        try:
            tape = tracing.active
            output_data = backend.as_ndarray(
                self.forward(*arrays) if tape is None else tape.call(self.name, self.forward, *arrays))
        except backend.HostDeviceError as error:  # the stand-in device caught a host/device mix-up
            raise backend.HostDeviceError(f"{self.name}: {error}") from error
        if anomaly.active:
            self.created_at = anomaly.creation_site()
            anomaly.check_forward(self, arrays, output_data)
        output = Tensor(output_data)
        recording = _grad_enabled and any(x.requires_grad for x in inputs)
        if self.is_view and backend.shares_memory(output_data, arrays[0]):
            _make_view(output, inputs[0], recording)
        if recording:
            self.inputs = inputs
            self.needs_input_grad = tuple(x.requires_grad for x in inputs)
            self.generation = 1 + max(x.generation for x in inputs)
            self.hooks = None
            self.built_in_backward = _recording_in
            if self.saves_inputs:
                self.saved_versions = tuple(x._version_counter.value for x in inputs)
            if self.saves_output:
                self.save_output(output)
            output.requires_grad = True
            output.grad_fn = self
        return output

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
        for position in self.saved_positions():
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


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------
def _seed_gradients(outputs, grad_outputs):
    seeds = []
    for i, (output, seed) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(output, Tensor):
            raise TypeError(f"backward: output {i} is a {type(output).__name__}, not a Tensor")
        if not output.requires_grad:
            raise RuntimeError(
                f"backward: output {i} (shape {output.shape}) does not require grad and has no "
                "grad_fn: no input it was computed from has requires_grad=True")
        if seed is None:
            if output.array.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for scalar outputs, but output "
                    f"{i} has shape {output.shape}; pass gradient=<tensor of that shape>")
            xp = backend.get_array_module(output.array)
            seed = Tensor(xp.ones(output.shape, dtype=output.dtype))
        else:
            seed = constant_like(seed, output)
            if seed.device != output.device:
                raise backend.DeviceMismatchError(
                    f"backward: gradient {i} is on {seed.device} but output {i} is on {output.device}; "
                    "they must be on one device")
            if seed.shape != output.shape:
                raise RuntimeError(
                    f"backward: gradient {i} has shape {seed.shape} but the output has shape "
                    f"{output.shape}; they must match")
            if seed.dtype != output.dtype and not seed.requires_grad:
                seed = Tensor(seed.array.astype(output.dtype))  # as torch: a gradient has its tensor's dtype
        seeds.append(seed)
    return seeds


def _functions_leading_to(outputs, targets):
    """The Functions on some path from `outputs` down to a target tensor (iterative DFS)."""
    target_ids = {id(t) for t in targets}
    target_fns = {t.grad_fn for t in targets if t.grad_fn is not None}
    leads = {}
    stack = [(o.grad_fn, False) for o in outputs if o.grad_fn is not None]
    while stack:
        fn, children_done = stack.pop()
        if fn in leads:
            continue
        if fn.inputs is None:
            raise _freed_graph_error(fn)
        if not children_done:
            stack.append((fn, True))
            stack.extend((x.grad_fn, False) for x in fn.inputs
                         if x.grad_fn is not None and x.grad_fn not in leads)
            continue
        leads[fn] = fn in target_fns or any(
            id(x) in target_ids or (x.grad_fn is not None and leads.get(x.grad_fn, False))
            for x in fn.inputs)
    return {fn for fn, leads_to_target in leads.items() if leads_to_target} | target_fns


def _freed_graph_error(fn):
    return RuntimeError(
        f"{fn.name}: trying to backpropagate through a graph a second time, but its saved "
        "values were freed by the first backward; pass retain_graph=True to that first call")


def _run_backward(outputs, seeds, retain_graph, create_graph, targets=None):
    """Propagate `seeds` from `outputs` towards the leaves.

    Without `targets`, gradients are summed into the `.grad` of every leaf that requires grad.
    With `targets` (a list of tensors), nothing is written to `.grad`; their gradients are
    returned in order (None where a target was not reached).
    """
    needed = None if targets is None else _functions_leading_to(outputs, targets)
    target_ids = None if targets is None else {id(t) for t in targets}
    grads = {}        # Function -> gradient of its output, summed over its consumers
    leaf_grads = {}   # id(leaf) -> [leaf, gradient]
    heap, order = [], itertools.count()

    def accumulate(tensor, gradient):
        fn = tensor.grad_fn
        if fn is None:
            if target_ids is None or id(tensor) in target_ids:
                entry = leaf_grads.get(id(tensor))
                if entry is None:
                    leaf_grads[id(tensor)] = [tensor, gradient]
                else:
                    entry[1] = tracing.traced("sum", "gradients of a leaf", operator.add, entry[1], gradient)
        elif needed is None or fn in needed:
            if fn in grads:
                grads[fn] = tracing.traced("sum", f"gradients of {fn.name}", operator.add, grads[fn], gradient)
            else:
                grads[fn] = gradient
                heapq.heappush(heap, (-fn.generation, next(order), fn))

    with set_grad_enabled(create_graph), _RecordingIn("backward"):
        for output, seed in zip(outputs, seeds):
            accumulate(output, seed)
        captured = {}
        target_fns = set() if targets is None else {t.grad_fn for t in targets if t.grad_fn is not None}
        while heap:
            fn = heapq.heappop(heap)[2]
            grad_output = grads.pop(fn)
            if fn.hooks:
                grad_output = _apply_hooks(fn.hooks, grad_output)
            if fn in target_fns:
                captured[fn] = grad_output
            if fn.inputs is None:
                raise _freed_graph_error(fn)
            fn.check_saved_versions()
            try:
                input_grads = _call_backward(fn, grad_output, create_graph)
            except (backend.HostDeviceError, backend.DeviceMismatchError) as error:
                raise type(error)(f"in the backward of {fn.name}: {error}") from error
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            if anomaly.active:
                anomaly.check_backward(fn, grad_output, input_grads)
            for x, gx in zip(fn.inputs, input_grads):
                if gx is not None and x.requires_grad:
                    if gx.shape != x.shape:
                        raise RuntimeError(
                            f"{fn.name}.backward returned a gradient of shape {gx.shape} for an "
                            f"input of shape {x.shape}")
                    accumulate(x, gx)
            if not retain_graph:
                fn.release()

        handed_out = {id(seed.array) for seed in seeds}
        if targets is not None:
            gradients = [_captured_gradient(t, captured, leaf_grads) for t in targets]
            if create_graph:
                return gradients
            return [g if g is None else Tensor(_unshared(g.array, handed_out)) for g in gradients]
        for leaf, gradient in leaf_grads.values():
            if leaf._hooks:
                gradient = _apply_hooks(leaf._hooks, gradient)
            _store_leaf_grad(leaf, gradient, create_graph, handed_out)
    return None


def _call_backward(fn, grad_output, create_graph):
    """fn.backward(grad_output), on the trace if one is recording; with create_graph, the ops it
    records note that they were made in fn's backward; under detect_anomaly, a NaN made by one of
    them is reported as fn's."""
    with _RecordingIn(f"{fn.name}.backward") if create_graph else _NOT_RECORDING, anomaly.blaming(fn):
        return tracing.traced("backward", fn.name, fn.backward, grad_output)


def _captured_gradient(target, captured, leaf_grads):
    if target.grad_fn is not None:
        return captured.get(target.grad_fn)
    entry = leaf_grads.get(id(target))
    if entry is None:
        return None
    return _apply_hooks(target._hooks, entry[1]) if target._hooks else entry[1]


def _apply_hooks(hooks, gradient):
    for hook in hooks:
        replaced = hook(gradient)
        if replaced is not None:
            gradient = replaced
    return gradient


def _unshared(array, handed_out):
    """`array`, or a copy of it where it may be seen elsewhere: a view, a seed the caller gave,
    or an array already handed to another leaf (`a + b` gives both the same gradient)."""
    if array.base is not None or id(array) in handed_out:
        array = array.copy()
    handed_out.add(id(array))
    return array


def _store_leaf_grad(leaf, gradient, create_graph, handed_out):
    """Sum `gradient` into `leaf.grad`; the stored array never aliases another tensor's memory."""
    if leaf.grad is None:
        leaf.grad = gradient.clone() if create_graph else Tensor(_unshared(gradient.array, handed_out))
    elif create_graph:
        leaf.grad = leaf.grad + gradient
    else:
        leaf.grad.array += gradient.array  # nothing records this, so accumulate in place


_after_backward = []  # callbacks queued with queue_callback, run when a backward() has stored .grad


def queue_callback(callback):
    """Run `callback()` once, after the current (or the next) `backward()` has written every
    `.grad`, as torch's `queue_callback`: DistributedDataParallel averages gradients this way."""
    if callback not in _after_backward:
        _after_backward.append(callback)


def backward(tensor, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Sum d tensor / d leaf into `.grad` of every leaf that requires grad (see Tensor.backward);
    with `inputs` (tensors, leaves or not), into the `.grad` of those only."""
    if retain_graph is None:
        retain_graph = create_graph
    seeds = _seed_gradients([tensor], [gradient])
    if inputs is None:
        _run_backward([tensor], seeds, retain_graph, create_graph)
    else:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        _check_inputs("backward", inputs)
        gradients = _run_backward([tensor], seeds, retain_graph, create_graph, targets=inputs)
        handed_out = {id(seed.array) for seed in seeds}
        for target, gradient in zip(inputs, gradients):
            if gradient is not None:
                _store_leaf_grad(target, gradient, create_graph, handed_out)
    while _after_backward:
        _after_backward.pop(0)()


def _check_inputs(op, inputs):
    if not inputs:
        raise RuntimeError(f"{op}: inputs must not be empty")
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: input {i} is a {type(x).__name__}, not a Tensor")
        if not x.requires_grad:
            raise RuntimeError(
                f"{op}: input {i} (shape {x.shape}) does not require grad; create it with "
                "requires_grad=True or call .requires_grad_() before using it")


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of `outputs` with respect to `inputs`, as a tuple; `.grad` is left untouched.

    With `create_graph=True` the returned gradients are themselves differentiable, which is what
    a gradient penalty needs. torch's whole signature: `only_inputs` is accepted and ignored (as
    torch does), `materialize_grads=True` gives zeros instead of None for an unused input.
    """
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True (vmap over grad_outputs) is not supported; "
                                  "call grad once per row of grad_outputs")
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and not allow_unused:
        raise ValueError("grad: materialize_grads=True needs allow_unused=True (or left as None)")
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    _check_inputs("grad", inputs)
    if retain_graph is None:
        retain_graph = create_graph
    seeds = _seed_gradients(outputs, grad_outputs)
    gradients = _run_backward(outputs, seeds, retain_graph, create_graph, targets=inputs)
    for i, (x, g) in enumerate(zip(inputs, gradients)):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {x.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it")
    if materialize_grads:
        gradients = [Tensor(backend.get_array_module(x.array).zeros_like(x.array)) if g is None else g
                     for x, g in zip(inputs, gradients)]
    return tuple(gradients)


class _VariableType(type):
    def __instancecheck__(cls, instance):
        return isinstance(instance, Tensor)  # as torch: every tensor is a Variable


class Variable(metaclass=_VariableType):
    """torch.autograd.Variable as torch >= 0.4 keeps it: `Variable(t, requires_grad=...)` is a
    tensor with t's storage, cut from t's graph, that requires grad as asked."""

    def __new__(cls, data, requires_grad=False, volatile=False):
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable: data must be a Tensor, got {type(data).__name__}")
        return data.detach().requires_grad_(requires_grad)
