"""The backward engine: graph walking, accumulation, graph freeing, grad modes, hooks and errors."""
import gc
import sys
import weakref

import numpy
import pytest
from parity import assert_close, torch

import minigan

rng = numpy.random.default_rng(3)


def leaf(*shape):
    return minigan.tensor(rng.standard_normal(shape), requires_grad=True)


def torch_twin(tensor):
    return torch.tensor(tensor.array, requires_grad=True)


# -- graph walking ----------------------------------------------------------------------------
def diamond(lib, x):
    """x feeds two branches that meet again, twice over: every path's gradient must be summed."""
    left, right = x * 2, x.exp()
    top = left * right + left
    return (top.tanh() * top + x.sum()).sum()


def test_diamond_gradients_match_torch():
    x = leaf(3, 4)
    x_torch = torch_twin(x)
    diamond(minigan, x).backward()
    diamond(torch, x_torch).backward()
    assert_close(x.grad.array, x_torch.grad.numpy(), what="gradient through the diamonds")


def test_a_tensor_used_many_times_gets_every_contribution():
    x = minigan.tensor(1.5, dtype=minigan.float64, requires_grad=True)
    total = x
    for _ in range(9):
        total = total + x  # 10 x in all
    (total * x).backward()  # d/dx 10x² = 20x
    assert x.grad.item() == 20 * 1.5


def test_a_chain_of_10000_ops_backpropagates():
    x = minigan.tensor([1.0, 2.0], dtype=minigan.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 - 0.5
    limit = sys.getrecursionlimit()
    y.sum().backward()
    assert sys.getrecursionlimit() == limit
    numpy.testing.assert_allclose(x.grad.array, [1.0001 ** 10_000] * 2, rtol=1e-12)


def test_grad_through_a_chain_of_10000_ops():
    x = minigan.tensor(0.3, dtype=minigan.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + x * 0.001
    (gradient,) = minigan.grad(y, x)
    assert gradient.item() == pytest.approx(1 + 10_000 * 0.001, rel=1e-12)


def test_a_deep_graph_can_be_dropped_without_backward():
    x = leaf(2)
    y = x
    for _ in range(10_000):
        y = y.tanh()
    del y  # freeing 10,000 nested nodes must not overflow the stack either


def test_grad_with_respect_to_an_intermediate_tensor_matches_torch():
    def forward(x):
        hidden = x.tanh() * 3
        return hidden, (hidden * hidden * x).sum()

    x = leaf(2, 3)
    x_torch = torch_twin(x)
    hidden, y = forward(x)
    hidden_torch, y_torch = forward(x_torch)
    ours = minigan.grad(y, [hidden, x])
    theirs = torch.autograd.grad(y_torch, [hidden_torch, x_torch])
    for g, t in zip(ours, theirs):
        assert_close(g.array, t.numpy())


def test_grad_of_several_outputs_sums_their_contributions():
    x = leaf(3)
    x_torch = torch_twin(x)
    v = rng.standard_normal(3)
    (ours,) = minigan.grad([x.exp(), (x * x).sum()], x, [minigan.tensor(v), None])
    (theirs,) = torch.autograd.grad([x_torch.exp(), (x_torch * x_torch).sum()], x_torch, [torch.tensor(v), None])
    assert_close(ours.array, theirs.numpy())


# -- accumulation, graph freeing --------------------------------------------------------------
def test_two_backward_calls_accumulate_into_grad():
    x = leaf(3)
    (x * x).sum().backward()
    x.exp().sum().backward()
    assert_close(x.grad.array, 2 * x.array + numpy.exp(x.array))


def test_backward_twice_without_retain_graph_raises_and_names_retain_graph():
    x = leaf(3)
    y = (x.tanh() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_grad_twice_without_retain_graph_raises():
    x = leaf(3)
    y = (x.exp() * 2).sum()
    minigan.grad(y, x)
    with pytest.raises(RuntimeError, match="retain_graph"):
        minigan.grad(y, x)


@pytest.mark.parametrize("retain_graph", [False, True])
def test_backward_frees_the_graph_unless_retain_graph(retain_graph):
    x = leaf(3)
    hidden = x * 2
    hidden_alive = weakref.ref(hidden)
    y = (hidden.exp() * hidden).sum()
    del hidden
    assert hidden_alive() is not None  # the graph holds it for backward
    y.backward(retain_graph=retain_graph)
    assert (hidden_alive() is not None) == retain_graph


def test_retain_graph_allows_a_second_backward():
    x = leaf(3)
    y = (x.tanh() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.array.copy()
    y.backward()
    assert_close(x.grad.array, 2 * first)


# -- grad modes, detach ------------------------------------------------------------------------
def assert_no_graph(tensor):
    assert not tensor.requires_grad and tensor.grad_fn is None and tensor.is_leaf


def test_no_grad_as_a_context_manager_builds_no_graph():
    x = leaf(3)
    with minigan.no_grad():
        y = (x * 2).exp().sum()
        assert not minigan.is_grad_enabled()
    assert_no_graph(y)
    assert minigan.is_grad_enabled()
    assert (x * 2).requires_grad


def test_no_grad_as_a_decorator_builds_no_graph():
    @minigan.no_grad()
    def double(t):
        """Twice t."""
        return t * 2

    assert_no_graph(double(leaf(3)))
    assert double.__name__ == "double" and double.__doc__ == "Twice t."
    assert minigan.is_grad_enabled()


def test_no_grad_is_restored_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with minigan.no_grad():
            1 / 0
    assert minigan.is_grad_enabled()


def test_enable_grad_inside_no_grad_records_again():
    x = leaf(3)
    with minigan.no_grad():
        with minigan.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and y.grad_fn is not None
    assert_no_graph(z)


def test_set_grad_enabled_false_builds_no_graph():
    x = leaf(3)
    with minigan.set_grad_enabled(False):
        y = x.tanh()
    assert_no_graph(y)
    assert minigan.is_grad_enabled()


def test_set_grad_enabled_called_on_its_own_switches_from_then_on_as_in_torch():
    x = leaf(3)
    try:
        minigan.set_grad_enabled(False)
        assert_no_graph(x * 2)
    finally:
        minigan.set_grad_enabled(True)
    assert (x * 2).requires_grad


def test_set_grad_enabled_as_a_decorator_acts_inside_the_function_only():
    @minigan.set_grad_enabled(False)
    def double(t):
        return t * 2

    assert minigan.is_grad_enabled()
    x = leaf(3)
    assert_no_graph(double(x))
    assert (x * 2).requires_grad


def test_a_decorated_function_may_call_itself():
    @minigan.no_grad()
    def countdown(t, steps):
        assert not minigan.is_grad_enabled()
        return t if steps == 0 else countdown(t * 2, steps - 1)

    with minigan.enable_grad():
        assert_no_graph(countdown(leaf(2), 3))
        assert minigan.is_grad_enabled()


def test_ops_on_tensors_that_need_no_grad_build_no_graph():
    x = minigan.tensor(rng.standard_normal(3))
    assert_no_graph((x * 2 + 1).exp().sum())


def test_detach_cuts_the_graph_and_keeps_the_data():
    x = leaf(3)
    detached = x.detach()
    assert_no_graph(detached)
    assert numpy.shares_memory(detached.array, x.array)  # as torch's detach: same storage
    (x * x.detach()).sum().backward()  # d/dx x·c = c, not 2x
    assert_close(x.grad.array, x.array)


# -- higher order, hooks -----------------------------------------------------------------------
def test_create_graph_gradients_are_differentiable_to_third_order():
    x = minigan.tensor([0.5, -1.5, 2.0], dtype=minigan.float64, requires_grad=True)
    (first,) = minigan.grad((x ** 4).sum(), x, create_graph=True)
    (second,) = minigan.grad(first.sum(), x, create_graph=True)
    (third,) = minigan.grad(second.sum(), x)
    assert first.requires_grad and second.requires_grad and not third.requires_grad
    assert_close(first.array, 4 * x.array ** 3)
    assert_close(second.array, 12 * x.array ** 2)
    assert_close(third.array, 24 * x.array)


def test_backward_with_create_graph_leaves_a_differentiable_grad():
    x = leaf(3)
    x.tanh().sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (second,) = minigan.grad(x.grad.sum(), x)
    y = numpy.tanh(x.array)
    assert_close(second.array, -2 * y * (1 - y * y))  # d/dx (1 - tanh²x)


def test_gradient_penalty_matches_torch():
    """WGAN-GP: the gradient of ((‖∂D/∂x‖ - 1)²) with respect to D's weights."""
    def penalty(lib, grad, x, weight):
        score = (x @ weight).tanh().sum()
        (input_grad,) = grad(score, x, create_graph=True)
        return ((input_grad.norm(dim=1) - 1) ** 2).mean()

    x, weight = leaf(4, 3), leaf(3, 5)
    x_torch, weight_torch = torch_twin(x), torch_twin(weight)
    penalty(minigan, minigan.grad, x, weight).backward()
    penalty(torch, torch.autograd.grad, x_torch, weight_torch).backward()
    assert_close(weight.grad.array, weight_torch.grad.numpy(), what="weight gradient")
    assert_close(x.grad.array, x_torch.grad.numpy(), what="input gradient")


def test_a_hook_on_a_leaf_sees_its_gradient_and_may_replace_it():
    x = leaf(3)
    seen = []
    x.register_hook(lambda g: seen.append(g.array.copy()))
    x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    assert_close(seen[0], numpy.full(3, 3.0))
    assert_close(x.grad.array, numpy.full(3, 30.0))


def test_a_hook_on_an_intermediate_tensor_sees_its_gradient_and_may_replace_it():
    x = leaf(3)
    hidden = x * 3
    seen = []
    hidden.register_hook(lambda g: seen.append(g.array.copy()))
    hidden.register_hook(lambda g: g * 10)
    (hidden * 2).sum().backward()
    assert len(seen) == 1
    assert_close(seen[0], numpy.full(3, 2.0))
    assert_close(x.grad.array, numpy.full(3, 60.0))  # 2 · 10 · 3


def test_a_hook_on_an_intermediate_tensor_acts_in_grad_too():
    x = leaf(3)
    hidden = x.exp()
    hidden.register_hook(lambda g: g * 0)
    (gradient,) = minigan.grad((hidden + x).sum(), x)
    assert_close(gradient.array, numpy.ones(3))


def test_a_hook_cannot_go_on_a_tensor_that_needs_no_grad():
    with pytest.raises(RuntimeError, match="require"):
        minigan.tensor([1.0]).register_hook(lambda g: g)


# -- no side effects ---------------------------------------------------------------------------
def test_grad_leaves_every_leaf_grad_untouched():
    x, w, unused = leaf(3), leaf(3), leaf(3)
    x.grad = minigan.tensor(numpy.full(3, 7.0))
    before = x.grad
    y = (x * w).sum() + (unused * 0).sum()
    minigan.grad(y, x)
    assert x.grad is before and numpy.all(x.grad.array == 7.0)
    assert w.grad is None and unused.grad is None


def test_forward_and_backward_do_not_mutate_inputs_or_the_seed_gradient():
    x, w = leaf(3, 4), leaf(4)
    x_before, w_before = x.array.copy(), w.array.copy()
    seed = minigan.tensor(rng.standard_normal(3))
    seed_before = seed.array.copy()
    y = (x * w).tanh().sum(1) + x[:, 0]
    y.backward(seed)
    y = (x * w).tanh().sum(1) + x[:, 0]
    y.backward(seed)  # the second call accumulates into .grad, never into anything else
    for array, before in [(x.array, x_before), (w.array, w_before), (seed.array, seed_before)]:
        numpy.testing.assert_array_equal(array, before)


def assert_owns_its_memory(gradient, *tensors):
    for tensor in tensors:
        assert gradient is not tensor
        assert not numpy.shares_memory(gradient.array, tensor.array)


def test_leaf_gradients_of_a_sum_do_not_share_memory():
    a, b = leaf(3), leaf(3)
    (a + b).sum().backward()
    assert_owns_its_memory(a.grad, b.grad, a, b)
    a.grad.array += 1  # optimizers write into gradients in place: b.grad must not change
    numpy.testing.assert_array_equal(b.grad.array, numpy.ones(3))


def test_a_gradient_through_a_view_does_not_share_memory_with_the_seed():
    x = leaf(2, 3)
    seed = minigan.tensor(rng.standard_normal(6))
    x.reshape(6).backward(seed)
    assert_owns_its_memory(x.grad, seed, x)
    (view_grad,) = minigan.grad(x.reshape(3, 2), x, seed.reshape(3, 2))
    assert_owns_its_memory(view_grad, seed, x)


def test_grad_results_do_not_share_memory_with_each_other_or_the_seed():
    a, b = leaf(3), leaf(3)
    seed = minigan.tensor(rng.standard_normal(3))
    ga, gb = minigan.grad(a + b, [a, b], seed)
    assert_owns_its_memory(ga, gb, seed, a, b)
    (gc,) = minigan.grad(a.clone(), a, seed)
    assert_owns_its_memory(gc, seed, a)


def test_a_gradient_equal_to_the_seed_is_stored_as_a_copy():
    x = leaf(3)
    seed = minigan.tensor(rng.standard_normal(3))
    x.clone().backward(seed)
    assert_owns_its_memory(x.grad, seed)


def test_create_graph_grad_is_stored_as_its_own_tensor():
    a, b = leaf(3), leaf(3)
    (a * b).sum().backward(create_graph=True)
    assert_owns_its_memory(a.grad, b.grad, a, b)


# -- dtypes of gradients -----------------------------------------------------------------------
def test_a_gradient_has_the_dtype_of_its_tensor_when_float32_meets_float64():
    x = minigan.tensor([1.0, 2.0], requires_grad=True)
    constant = minigan.tensor([0.5, 1.5], dtype=minigan.float64, requires_grad=True)
    y = (x * constant + x @ constant).sum()
    assert y.dtype == numpy.float64
    y.backward()
    assert x.grad.dtype == numpy.float32 and constant.grad.dtype == numpy.float64
    assert_close(x.grad.array, 3 * constant.array, rtol=1e-7)  # x·c is added to both elements


def test_a_seed_of_another_dtype_gives_gradients_of_the_output_dtype():
    x = minigan.tensor([1.0, 2.0], requires_grad=True)
    seed = minigan.tensor(numpy.array([1.0, 3.0]))
    (gradient,) = minigan.grad(x * 2, x, seed)
    (x * 2).backward(seed)
    assert gradient.dtype == x.grad.dtype == numpy.float32


# -- errors ------------------------------------------------------------------------------------
def test_backward_of_a_non_scalar_without_gradient_raises():
    with pytest.raises(RuntimeError, match=r"scalar.*\(2, 3\)"):
        (leaf(2, 3) * 2).backward()


def test_backward_with_a_gradient_of_the_wrong_shape_raises():
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(2, 3\)"):
        (leaf(2, 3) * 2).backward(minigan.tensor(numpy.ones(3)))


def test_grad_with_a_grad_output_of_the_wrong_shape_raises():
    x = leaf(2, 3)
    with pytest.raises(RuntimeError, match=r"\(3, 2\).*\(2, 3\)"):
        minigan.grad(x * 2, x, minigan.tensor(numpy.ones((3, 2))))


def test_backward_of_a_tensor_that_needs_no_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        minigan.tensor([1.0, 2.0]).sum().backward()


def test_grad_with_respect_to_a_tensor_that_needs_no_grad_raises():
    x, constant = leaf(3), minigan.tensor(numpy.ones(3))
    with pytest.raises(RuntimeError, match=r"input 1 .*does not require grad"):
        minigan.grad((x * constant).sum(), [x, constant])


def test_grad_of_an_unused_input_raises_unless_allow_unused():
    x, unused = leaf(3), leaf(3)
    with pytest.raises(RuntimeError, match=r"input 1 .*allow_unused"):
        minigan.grad((x * 2).sum(), [x, unused], retain_graph=True)
    gradient, nothing = minigan.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert nothing is None
    assert_close(gradient.array, numpy.full(3, 2.0))


@pytest.mark.parametrize("name, fn", [
    ("Add", lambda a, b: a + b), ("Sub", lambda a, b: a - b), ("Mul", lambda a, b: a * b),
    ("Div", lambda a, b: a / b), ("Pow", lambda a, b: a ** b),
    ("Maximum", minigan.maximum), ("Minimum", minigan.minimum),
    ("Where", lambda a, b: minigan.where(minigan.tensor(True), a, b)),
], ids=lambda v: v if isinstance(v, str) else "")
def test_shapes_that_cannot_broadcast_raise_naming_the_op_and_both_shapes(name, fn):
    with pytest.raises(ValueError, match=rf"{name}.*\(2, 3\).*\(4,\)"):
        fn(leaf(2, 3), leaf(4))


def test_matmul_of_mismatched_shapes_raises_naming_both_shapes():
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        leaf(2, 3) @ leaf(4, 5)
    with pytest.raises(ValueError, match=r"matmul.*batch.*\(2, 3, 4\).*\(3, 4, 5\)"):
        leaf(2, 3, 4) @ leaf(3, 4, 5)


def test_where_with_a_condition_that_cannot_broadcast_raises_naming_the_shapes():
    condition = minigan.tensor(numpy.ones(5, dtype=bool))
    with pytest.raises(ValueError, match=r"Where.*\(5,\).*\(2, 3\).*\(2, 3\)"):
        minigan.where(condition, leaf(2, 3), leaf(2, 3))


def test_an_integer_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating"):
        minigan.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating"):
        minigan.arange(3).requires_grad_()


def test_the_graph_lets_go_of_values_that_no_backward_reads():
    x = minigan.tensor([0.5, -1.0, 2.0], dtype=minigan.float64, requires_grad=True)
    hidden = x * 3          # read by nobody's backward: tanh's reads its output, reshape only a shape
    y = hidden.tanh().reshape(3, 1)
    value = weakref.ref(hidden.array)
    del hidden
    gc.collect()
    assert value() is None
    edge = y.grad_fn.inputs[0].grad_fn.inputs[0]  # where tanh's gradient goes: hidden's place in the graph
    assert edge.shape == (3,) and edge.dtype == minigan.float64 and edge.grad_fn is not None
    with pytest.raises(RuntimeError, match="Tanh.backward read the value of an input it does not save"):
        edge.array
    y.sum().backward()
    assert numpy.allclose(x.grad.array, 3 * (1 - numpy.tanh(3 * numpy.array([0.5, -1.0, 2.0])) ** 2), rtol=1e-15)


def test_an_input_that_backward_reads_stays_with_the_graph():
    x = minigan.tensor([0.5, -1.0, 2.0], requires_grad=True)
    hidden = x * 3
    y = hidden * hidden  # each factor's gradient reads the other
    assert all(t is hidden for t in y.grad_fn.inputs)
