"""Reverse mode: the engine that walks the graph of minigan/tensor.py backwards.

How it works, in four steps:
1. Every op is a Function (minigan/tensor.py). Calling it computes `forward` on raw arrays and,
   when an input needs a gradient, records itself as the output's `grad_fn` with its inputs.
2. `backward` of a Function receives the gradient of its output as a *Tensor* and returns one
   gradient Tensor per input, computed with ordinary Tensor ops.
3. The engine (`_walk`) visits the recorded Functions from the output towards the leaves,
   highest generation first, so each runs once, after every gradient of its output was summed.
4. With `create_graph=True` the walk runs those backward ops with recording on, so the gradient
   is itself a graph that can be differentiated again: double backward for free.

`backward()` stores the gradients that reach the leaves in their `.grad`; `grad()` hands the
gradients of the tensors asked for back instead. This module also keeps torch's names for the
autograd namespace: `minigan.autograd.Function`, `grad`, `Variable`, `no_grad`...
"""
import heapq
import itertools
import operator

from minigan import anomaly, backend, tensor, tracing
from minigan.errors import HostDeviceError
from minigan.tensor import (Function, Tensor, constant_like, enable_grad, is_grad_enabled, no_grad,  # noqa: F401
                            set_grad_enabled)


# --------------------------------------------------------------------------------------------
# The walk
# --------------------------------------------------------------------------------------------
def _walk(outputs, seeds, retain_graph, create_graph, needed=None, captured=None):
    """Propagate `seeds` (d loss / d output) from `outputs` towards the leaves.

    Returns {id(leaf): [leaf, gradient]} for every leaf reached. `needed`, if given, is the set of
    Functions worth visiting (those leading to the tensors grad() asks about); the gradients of
    the Functions in `captured` (a dict) are written into it as they are met.
    """
    pending = {}  # Function -> the gradient of its output, summed over its consumers so far
    leaves = {}   # id(leaf) -> [leaf, gradient]
    heap, order = [], itertools.count()

    def accumulate(x, gradient):
        fn = x.grad_fn
        if fn is None:
            entry = leaves.setdefault(id(x), [x, None])
            entry[1] = gradient if entry[1] is None else _sum(entry[1], gradient, "gradients of a leaf")
        elif needed is None or fn in needed:
            if fn in pending:
                pending[fn] = _sum(pending[fn], gradient, f"gradients of {fn.name}")
            else:
                pending[fn] = gradient
                heapq.heappush(heap, (-fn.generation, next(order), fn))

    for output, seed in zip(outputs, seeds):
        accumulate(output, seed)
    with tensor.backward_pass(create_graph):
        while heap:
            fn = heapq.heappop(heap)[2]
            grad_output = pending.pop(fn)
            if fn.hooks:
                grad_output = _apply_hooks(fn.hooks, grad_output)
            if captured is not None and fn in captured:
                captured[fn] = grad_output
            for x, gradient in zip(fn.inputs, _backward_of(fn, grad_output)):
                if gradient is not None and x.requires_grad:
                    if gradient.shape != x.shape:
                        raise RuntimeError(f"{fn.name}.backward returned a gradient of shape {gradient.shape} "
                                           f"for an input of shape {x.shape}")
                    accumulate(x, gradient)
            if not retain_graph:
                fn.release()
    return leaves


def _backward_of(fn, grad_output):
    """fn.backward(grad_output) as a tuple, after checking that what it reads is still there; the
    ops it runs note that they belong to it (tensor.running_backward), and the instruments'
    seams: the tape of minigan.trace(), detect_anomaly's check of every gradient."""
    if fn.inputs is None:
        raise _freed_graph_error(fn)
    fn.check_saved_versions()
    outer, tensor.running_backward = tensor.running_backward, fn
    try:
        gradients = fn.backward(grad_output) if tracing.active is None else tracing.traced(
            "backward", fn.name, fn.backward, grad_output)
    except (HostDeviceError, backend.DeviceMismatchError) as error:
        raise type(error)(f"in the backward of {fn.name}: {error}") from error
    finally:
        tensor.running_backward = outer
    gradients = gradients if isinstance(gradients, tuple) else (gradients,)
    if anomaly.active:
        anomaly.check_backward(fn, grad_output, gradients)
    return gradients


def _sum(total, gradient, what):
    """total + gradient: two paths meeting (on the tape of minigan.trace() as a 'sum')."""
    return total + gradient if tracing.active is None else tracing.traced("sum", what, operator.add, total, gradient)


def _apply_hooks(hooks, gradient):
    for hook in hooks:
        replaced = hook(gradient)
        if replaced is not None:
            gradient = replaced
    return gradient


def _freed_graph_error(fn):
    return RuntimeError(
        f"{fn.name}: trying to backpropagate through a graph a second time, but its saved "
        "values were freed by the first backward; pass retain_graph=True to that first call")


# --------------------------------------------------------------------------------------------
# What the walk starts from
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
            seed = Tensor(backend.get_array_module(output.array).ones_like(output.array))
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


# --------------------------------------------------------------------------------------------
# Where the gradients go: into .grad (backward), or back to the caller (grad)
# --------------------------------------------------------------------------------------------
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


def _collect(targets, leaves, captured, create_graph, handed_out):
    """The gradient of each target, in order (None where the walk did not reach it)."""
    gradients = []
    for target in targets:
        if target.grad_fn is not None:
            gradient = captured.get(target.grad_fn)
        else:
            gradient = leaves.get(id(target), [None, None])[1]
            if gradient is not None and target._hooks:
                gradient = _apply_hooks(target._hooks, gradient)
        if gradient is not None and not create_graph:
            gradient = Tensor(_unshared(gradient.array, handed_out))
        gradients.append(gradient)
    return gradients


def _gradients_of(outputs, seeds, targets, retain_graph, create_graph):
    """The gradients of `outputs` (seeded by `seeds`) with respect to `targets`, leaves or not."""
    captured = {t.grad_fn: None for t in targets if t.grad_fn is not None}
    leaves = _walk(outputs, seeds, retain_graph, create_graph, _functions_leading_to(outputs, targets), captured)
    return _collect(targets, leaves, captured, create_graph, {id(seed.array) for seed in seeds})


_after_backward = []  # callbacks queued with queue_callback, run when a backward() has stored .grad


def queue_callback(callback):
    """Run `callback()` once, after the current (or the next) `backward()` has written every
    `.grad`, as torch's `queue_callback`: DistributedDataParallel averages gradients this way."""
    if callback not in _after_backward:
        _after_backward.append(callback)


def backward(tensor, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Sum d tensor / d leaf into `.grad` of every leaf that requires grad; with `inputs` (tensors,
    leaves or not), into the `.grad` of those only. `gradient` is d loss / d tensor, needed when
    tensor is not a scalar. The graph is freed afterwards unless `retain_graph`; `create_graph`
    makes the gradients differentiable."""
    if retain_graph is None:
        retain_graph = create_graph
    seeds = _seed_gradients([tensor], [gradient])
    handed_out = {id(seed.array) for seed in seeds}
    if inputs is None:
        for leaf, leaf_gradient in _walk([tensor], seeds, retain_graph, create_graph).values():
            if leaf._hooks:
                leaf_gradient = _apply_hooks(leaf._hooks, leaf_gradient)
            _store_leaf_grad(leaf, leaf_gradient, create_graph, handed_out)
    else:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        _check_inputs("backward", inputs)
        for target, target_gradient in zip(inputs, _gradients_of([tensor], seeds, inputs, retain_graph,
                                                                 create_graph)):
            if target_gradient is not None:
                _store_leaf_grad(target, target_gradient, create_graph, handed_out)
    while _after_backward:
        _after_backward.pop(0)()


Tensor.backward = backward


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
    gradients = _gradients_of(outputs, seeds, inputs, retain_graph, create_graph)
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
