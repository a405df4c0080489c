"""What the tests share: one helper to check an op against torch, forward, first and second order,
plus meta-checks; `on_cuda`, which runs a function on the stand-in GPU; and twins of modules.

`assert_matches_torch(fn, arrays)` runs the same function on minigan tensors and on torch tensors
(float64), with a random incoming gradient v, and compares
  - the outputs,
  - the first-order gradients vᵀ·J with respect to every input,
  - the second-order gradients of a gradient-penalty-like scalar s = Σ‖vᵀ·J‖² (+ a random
    projection), differentiated through create_graph=True.
It also checks that the inputs were not mutated and that no gradient shares memory with data.
`twins(build)` makes a module in both libraries with the same weights; `assert_same_gradients`
and `assert_same_state` compare them after a step.
"""
import os

import numpy
import pytest

import minigan

if os.environ.get("MINIGAN_REQUIRE_TORCH"):
    import torch  # CI: a missing torch must fail the parity tests, not skip them
else:
    torch = pytest.importorskip("torch")

RTOL = 1e-10


def assert_close(actual, expected, rtol=RTOL, atol=0.0, what="value"):
    """Relative error ≤ rtol, measured against the largest magnitude of the expected values."""
    actual, expected = numpy.asarray(actual, dtype=numpy.float64), numpy.asarray(expected, dtype=numpy.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != torch's {expected.shape}"
    scale = max(numpy.max(numpy.abs(expected), initial=0.0), 1e-300)
    error = numpy.max(numpy.abs(actual - expected), initial=0.0)
    assert error <= rtol * scale + atol, f"{what}: max |difference| {error:.3g} exceeds {rtol:.0e} × {scale:.3g}"


def _to_tuple(value):
    return value if isinstance(value, (tuple, list)) else (value,)


def assert_matches_torch(fn, arrays, torch_fn=None, grad_mask=None, rtol=RTOL, second_order=True, seed=0,
                         torch_fused=False):
    """Compare `fn` on minigan tensors with `torch_fn` (default: `fn`) on torch tensors.

    `arrays` are numpy arrays (float64 for differentiable inputs); `grad_mask` says which of them
    require grad (default: every floating-point array). A gradient made with create_graph must be
    in the graph (require grad) exactly where torch's is, except with `torch_fused`: torch
    computes the op's gradients in one node (conv, the norms), so each of them is in the graph as
    soon as any input is, even one that is a constant (a bias's: the cotangent summed); minigan's
    is then a constant, and only the values and the derivatives of the others are compared.
    """
    torch_fn = torch_fn or fn
    arrays = [numpy.asarray(a) for a in arrays]
    if grad_mask is None:
        grad_mask = [a.dtype.kind == "f" for a in arrays]
    originals = [a.copy() for a in arrays]
    ours = [minigan.tensor(a, requires_grad=g) for a, g in zip(arrays, grad_mask)]
    theirs = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grad_mask)]
    our_outputs, their_outputs = _to_tuple(fn(*ours)), _to_tuple(torch_fn(*theirs))
    assert len(our_outputs) == len(their_outputs)
    for i, (o, t) in enumerate(zip(our_outputs, their_outputs)):
        assert o.dtype == numpy.dtype(str(t.dtype).replace("torch.", "")), f"output {i} dtype"
        assert_close(o.array, t.detach().numpy(), rtol, what=f"output {i}")

    wrt = [i for i, g in enumerate(grad_mask) if g]
    differentiable = [k for k, t in enumerate(their_outputs) if t.requires_grad]
    if not wrt or not differentiable:
        return
    rng = numpy.random.default_rng(seed)
    cotangents = [rng.standard_normal(their_outputs[k].shape) for k in differentiable]
    our_grads = minigan.grad([our_outputs[k] for k in differentiable], [ours[i] for i in wrt],
                             [minigan.tensor(v) for v in cotangents], create_graph=second_order,
                             allow_unused=True)
    their_grads = torch.autograd.grad([their_outputs[k] for k in differentiable], [theirs[i] for i in wrt],
                                      [torch.tensor(v) for v in cotangents], create_graph=second_order,
                                      allow_unused=True)
    for i, g, t in zip(wrt, our_grads, their_grads):
        if t is None:
            assert g is None or not numpy.any(g.array), f"input {i}: torch has no gradient, minigan has one"
            continue
        assert g is not None, f"input {i}: minigan has no gradient"
        assert_close(g.array, t.detach().numpy(), rtol, what=f"gradient of input {i}")
        # a gradient made with create_graph is differentiable exactly where torch's is
        if not torch_fused:
            assert g.requires_grad == t.requires_grad, f"gradient of input {i}: requires_grad {g.requires_grad}, " \
                                                       f"torch's {t.requires_grad}"
        for x in ours:
            assert not numpy.shares_memory(g.array, x.array), f"gradient of input {i} shares memory with an input"

    if second_order:
        _assert_second_order_matches(our_grads, their_grads, ours, theirs, wrt, rng, rtol)
    for i, (a, original) in enumerate(zip(arrays, originals)):
        numpy.testing.assert_array_equal(a, original, err_msg=f"input {i} was mutated")
        numpy.testing.assert_array_equal(ours[i].array, original, err_msg=f"minigan input {i} was mutated")


def _assert_second_order_matches(our_grads, their_grads, ours, theirs, wrt, rng, rtol):
    """d/dx of s = Σ (‖g‖² + w·g) over the first-order gradients g: a penalty-like scalar."""
    pairs = [(g, t) for g, t in zip(our_grads, their_grads) if t is not None and t.requires_grad and g.requires_grad]
    if not pairs:
        return
    weights = [rng.standard_normal(t.shape) for _, t in pairs]
    our_s = sum(((g * g).sum() + (g * minigan.tensor(w)).sum() for (g, _), w in zip(pairs, weights)), start=0.0)
    their_s = sum(((t * t).sum() + (t * torch.tensor(w)).sum() for (_, t), w in zip(pairs, weights)), start=0.0)
    assert_close(our_s.array, their_s.detach().numpy(), rtol, what="penalty of the first-order gradients")
    # the first-order gradients are in the graph exactly where torch's are (checked above), so the
    # second-order gradients exist (even where they are zeros: relu, abs) exactly where torch's do
    our_second = minigan.grad(our_s, [ours[i] for i in wrt], allow_unused=True)
    their_second = torch.autograd.grad(their_s, [theirs[i] for i in wrt], allow_unused=True)
    for i, g, t in zip(wrt, our_second, their_second):
        assert (g is None) == (t is None), f"input {i}: second-order gradient {g} but torch's {t}"
        if t is not None:
            assert_close(g.array, t.numpy(force=True), rtol, what=f"second-order gradient of input {i}")


def on_cuda(fn):
    """`fn` computed on 'cuda': its inputs moved there and its outputs back, both as ops, so that
    gradients of every order flow through the device and back to the host leaves."""
    def moved(*tensors):
        outputs = fn(*[t.to("cuda") for t in tensors])
        single = not isinstance(outputs, tuple)
        for output in (outputs,) if single else outputs:
            assert output.device == "cuda", "the op left the device"
        return outputs.cpu() if single else tuple(output.cpu() for output in outputs)
    return moved


# --------------------------------------------------------------------------------------------
# Modules in both libraries: twins with the same weights, and their gradients and state compared
# --------------------------------------------------------------------------------------------
def load_from_torch(ours, theirs):
    """Make `ours` float64 with the parameters and buffers of `theirs` (made float64 too)."""
    theirs.double()
    ours.double().load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    return ours, theirs


def twins(build):
    """The module `build(nn)` in minigan and in torch, float64, with torch's weights in both."""
    return load_from_torch(build(minigan.nn), build(torch.nn))


def _gradient(param, to_array):
    """The gradient as an array; no gradient counts as zeros (torch fills zeros where minigan
    records no path at all, e.g. through a LeakyReLU's piecewise-constant slope)."""
    return numpy.zeros(tuple(param.shape)) if param.grad is None else to_array(param.grad)


def assert_same_gradients(ours, theirs):
    """Every parameter gradient of `ours` equals that of its torch twin (same names, same order).

    A gradient that is zero in exact arithmetic — a bias followed by a BatchNorm, which subtracts
    it again — is rounding noise in both libraries: it is compared as zero, up to 1e-12 of the
    module's largest gradient. Every other gradient must agree to a relative 1e-10.
    """
    our_params, their_params = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert list(our_params) == list(their_params)
    our_grads = {name: _gradient(param, lambda grad: grad.array) for name, param in our_params.items()}
    their_grads = {name: _gradient(param, lambda grad: grad.numpy()) for name, param in their_params.items()}
    noise = 1e-12 * max((numpy.abs(grad).max(initial=0.0) for grad in their_grads.values()), default=0.0)
    for name, their_grad in their_grads.items():
        if numpy.abs(their_grad).max(initial=0.0) <= noise:
            assert_close(our_grads[name], their_grad, atol=noise, what=f"gradient of {name} (zero up to rounding)")
        else:
            assert_close(our_grads[name], their_grad, what=f"gradient of {name}")


def assert_same_state(ours, theirs):
    """Same state_dict keys in the same order, same dtypes, same values (running statistics too)."""
    our_state, their_state = ours.state_dict(), theirs.state_dict()
    assert list(our_state) == list(their_state)
    for key, value in their_state.items():
        assert our_state[key].dtype == value.numpy().dtype, key
        assert_close(our_state[key].array, value.numpy(), what=key)
