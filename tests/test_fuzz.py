"""Fuzzing: hypothesis writes random little programs (a chain of ops on random shapes, with random
dims and arguments, often invalid ones) and runs each in minigan and in torch. Either both run,
and minigan's values and gradients match torch's, or torch refuses and minigan raises an error of
its own whose message names the op. Never a numpy traceback from inside an op, never a silent
wrong result."""
import os

import numpy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parity import assert_close, torch

import minigan

FUZZ_EXAMPLES = int(os.environ.get("MINIGAN_FUZZ_EXAMPLES", 300))
shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)
small_dims = st.integers(-4, 3)

# name -> (minigan call, torch call, number of tensor operands, strategy for the extra arguments)
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "matmul": (lambda a, b: a @ b, lambda a, b: a @ b),
    "maximum": (minigan.maximum, torch.maximum),
}
UNARY = {
    "exp": (lambda x: x.exp(), lambda x: x.exp()),
    "tanh": (lambda x: x.tanh(), lambda x: x.tanh()),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: x.sigmoid()),
    "relu": (lambda x: x.relu(), lambda x: x.relu()),
    "neg": (lambda x: -x, lambda x: -x),
}
WITH_DIM = {
    "sum": (lambda x, d: x.sum(d), lambda x, d: x.sum(d)),
    "mean": (lambda x, d: x.mean(d), lambda x, d: x.mean(d)),
    "amax": (lambda x, d: x.amax(d), lambda x, d: x.amax(d)),
    "unsqueeze": (lambda x, d: x.unsqueeze(d), lambda x, d: x.unsqueeze(d)),
    "squeeze": (lambda x, d: x.squeeze(d), lambda x, d: x.squeeze(d)),
    "softmax": (lambda x, d: minigan.nn.functional.softmax(x, d), lambda x, d: torch.softmax(x, d)),
}


# what an error may call an op that is made of others
NAMES = {"softmax": ("softmax", "amax"), "neg": ("neg",)}


@st.composite
def programs(draw):
    """Inputs' shapes and a list of steps; each step reads values made before it."""
    inputs = draw(st.lists(shapes, min_size=1, max_size=2))
    steps = []
    for position in range(draw(st.integers(1, 4))):
        available = len(inputs) + position
        kind = draw(st.sampled_from(["binary", "unary", "with_dim", "reshape", "transpose", "cat"]))
        first, second = draw(st.integers(0, available - 1)), draw(st.integers(0, available - 1))
        if kind == "binary":
            steps.append((kind, draw(st.sampled_from(sorted(BINARY))), (first, second), ()))
        elif kind == "unary":
            steps.append((kind, draw(st.sampled_from(sorted(UNARY))), (first,), ()))
        elif kind == "with_dim":
            steps.append((kind, draw(st.sampled_from(sorted(WITH_DIM))), (first,), (draw(small_dims),)))
        elif kind == "reshape":
            steps.append((kind, "reshape", (first,), (draw(st.lists(st.integers(-1, 6), min_size=1, max_size=3)),)))
        elif kind == "transpose":
            steps.append((kind, "transpose", (first,), (draw(small_dims), draw(small_dims))))
        else:
            steps.append((kind, "cat", (first, second), (draw(small_dims),)))
    return inputs, steps


def run(library, steps, inputs):
    """The program's values in `library` ("minigan" or "torch")."""
    ours = library == "minigan"
    values = list(inputs)
    for kind, name, operands, arguments in steps:
        tensors = [values[i] for i in operands]
        if kind == "binary":
            function = BINARY[name][0 if ours else 1]
        elif kind == "unary":
            function = UNARY[name][0 if ours else 1]
        elif kind == "with_dim":
            function = WITH_DIM[name][0 if ours else 1]
        elif kind == "reshape":
            function = lambda x, shape: x.reshape(*shape)  # noqa: E731
        elif kind == "transpose":
            function = lambda x, a, b: x.transpose(a, b)  # noqa: E731
        else:
            module = minigan if ours else torch
            function = lambda a, b, d: module.cat([a, b], d)  # noqa: E731
        values.append(function(*tensors, *arguments))
    return values[len(inputs):]


def leaves(library, arrays):
    if library == "minigan":
        return [minigan.tensor(array, requires_grad=True) for array in arrays]
    return [torch.tensor(array, requires_grad=True) for array in arrays]


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 2 ** 32 - 1))
def test_random_programs_match_torch_or_fail_with_an_error_naming_the_op(program, seed):
    input_shapes, steps = program
    rng = numpy.random.default_rng(seed)
    arrays = [rng.standard_normal(shape) for shape in input_shapes]
    theirs_inputs = leaves("torch", arrays)
    try:
        theirs = run("torch", steps, theirs_inputs)
    except (RuntimeError, IndexError, ValueError, TypeError) as torch_error:
        ours_inputs = leaves("minigan", arrays)
        with pytest.raises((ValueError, IndexError, TypeError, RuntimeError)) as caught:
            run("minigan", steps, ours_inputs)
        error, failed = caught.value, _failing_step(steps, input_shapes)
        assert not type(error).__module__.startswith("numpy"), f"a numpy error escaped minigan: {error!r}"
        assert any(name in str(error).lower() for name in NAMES.get(failed, (failed,))), (
            f"torch refused ({torch_error}); minigan's error does not name the op {failed}: {error!r}")
        return
    ours_inputs = leaves("minigan", arrays)
    ours = run("minigan", steps, ours_inputs)
    for mine, torchs in zip(ours, theirs):
        assert tuple(mine.shape) == tuple(torchs.shape)
        assert_close(mine.detach().numpy(), torchs.detach().numpy(), what="value")
    # gradients of the last value, summed against random weights
    weights = rng.standard_normal(tuple(theirs[-1].shape))
    (ours[-1] * minigan.tensor(weights)).sum().backward()
    (theirs[-1] * torch.tensor(weights)).sum().backward()
    for mine, torchs in zip(ours_inputs, theirs_inputs):
        if torchs.grad is not None:
            assert mine.grad is not None
            assert_close(mine.grad.numpy(), torchs.grad.numpy(), what="gradient")


def _failing_step(steps, input_shapes):
    """The name of the first step torch refuses: the op minigan's message must name."""
    values = [torch.zeros(shape) for shape in input_shapes]
    for step in steps:
        try:
            values += run("torch", [(step[0], step[1], tuple(range(len(step[2]))), step[3])],
                          [values[i] for i in step[2]])
        except (RuntimeError, IndexError, ValueError, TypeError):
            return step[1]
    return steps[-1][1]
