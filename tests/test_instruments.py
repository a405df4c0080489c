"""The instruments for studying the engine: minigan.trace() and the Module hooks, on small known
graphs (checked entry by entry, and against torch's hooks) and on a step of each example."""
import gc
import os
import sys

import numpy
import pytest
from parity import assert_close, torch

import minigan
import minigan.nn as nn
import minigan.nn.functional as F
from minigan.autograd import Function

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
import dcgan  # noqa: E402
import mnist_mlp  # noqa: E402
import slanted_faces  # noqa: E402
import wgan_gp  # noqa: E402


def leaf(values):
    return minigan.tensor(values, dtype=minigan.float64, requires_grad=True)


# --------------------------------------------------------------------------------------------
# minigan.trace()
# --------------------------------------------------------------------------------------------
def top_level(tape):
    return [(entry.phase, entry.name) for entry in tape if entry.depth == 0]


def test_the_tape_lists_a_known_graphs_ops_in_order_with_their_shapes():
    x, w = leaf([0.5, -1.0]), leaf([2.0, 3.0])
    with minigan.trace() as tape:
        y = (x.tanh() * w).sum()
        y.backward()
    assert top_level(tape) == [("forward", "Tanh"), ("forward", "Mul"), ("forward", "Sum"),
                               ("backward", "Sum"), ("backward", "Mul"), ("backward", "Tanh")]
    mul = next(entry for entry in tape if entry.name == "Mul")
    assert mul.input_shapes == ((2,), (2,)) and mul.output_shapes == ((2,),)
    entries = list(tape)
    tanh_backward = entries.index(next(e for e in entries if e.phase == "backward" and e.name == "Tanh"))
    # the backward of tanh is one TanhGrad op, run inside it
    assert [(e.name, e.depth) for e in entries[tanh_backward + 1:]] == [("TanhGrad", 1)]
    assert all(entry.seconds >= 0 for entry in tape) and tape.seconds >= sum(
        entry.seconds for entry in tape if entry.depth == 0)
    lines = str(tape).splitlines()
    assert len(lines) == len(tape) and lines[-1].startswith("    backward  TanhGrad")


def test_summary_counts_calls_per_op_and_its_shares_add_up_to_the_traced_time():
    x = leaf([1.0, 2.0, 3.0])
    with minigan.trace() as tape:
        for _ in range(3):
            (x * x).sum().backward()
    totals = tape.totals()
    assert totals[("forward", "Mul")][0] == 3 and totals[("backward", "Mul")][0] == 3
    rows = tape.summary().splitlines()[1:]
    shares = [float(row.rsplit(None, 1)[1].rstrip("%")) for row in rows]
    assert len(rows) == len(totals) + 1 and abs(sum(shares) - 100) < 0.5


def test_the_engines_gradient_sums_and_the_optimizer_step_are_on_the_tape():
    x = leaf([1.0, 2.0])
    optimizer = minigan.optim.SGD([x], lr=0.1)
    with minigan.trace() as tape:
        (x * 2 + x.exp()).sum().backward()  # x reaches the loss along two paths: one sum
        optimizer.step()
    assert ("sum", "gradients of a leaf") in top_level(tape)
    assert top_level(tape)[-1] == ("optimizer", "SGD.step")


def test_nothing_is_recorded_outside_the_block_and_a_double_backward_is_traced_too():
    x = leaf([0.3, -0.7])
    with minigan.trace() as tape:
        (gradient,) = minigan.grad(x.sigmoid().sum(), x, create_graph=True)
        gradient.sum().backward()
    x.exp()  # after the block
    assert len(tape) == len(list(tape)) and "Exp" not in [entry.name for entry in tape]
    backward_ops = [entry.name for entry in tape if entry.phase == "backward" and entry.depth == 0]
    assert backward_ops.count("Sigmoid") == 2 and "SigmoidGrad" in backward_ops  # the second pass differentiates SigmoidGrad


# --------------------------------------------------------------------------------------------
# Module hooks
# --------------------------------------------------------------------------------------------
def three_layers():
    minigan.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.2), nn.Linear(4, 2)).double()


def test_forward_hooks_fire_in_order_with_each_layers_own_output():
    model = three_layers()
    seen = []
    for name, layer in model.named_children():
        layer.register_forward_hook(lambda module, inputs, output, name=name: seen.append(
            (name, inputs[0].shape, output.shape, output.detach().numpy().copy())))
    x = minigan.randn(5, 3, dtype=minigan.float64)
    model(x)
    assert [(name, i, o) for name, i, o, _ in seen] == [("0", (5, 3), (5, 4)), ("1", (5, 4), (5, 4)),
                                                        ("2", (5, 4), (5, 2))]
    # with a hook on it, the Linear is not fused with its activation: the hook sees x Wᵀ + b
    expected = F.linear(x, model[0].weight, model[0].bias).detach().numpy()
    numpy.testing.assert_array_equal(seen[0][3], expected)


def test_a_forward_hook_may_replace_the_output_and_its_handle_removes_it():
    model = three_layers()
    x = minigan.randn(2, 3, dtype=minigan.float64)
    handle = model[2].register_forward_hook(lambda module, inputs, output: output * 0)
    assert float(minigan.abs(model(x)).sum().item()) == 0.0
    handle.remove()
    assert float(minigan.abs(model(x)).sum().item()) > 0.0


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")  # torch's note on the first layer fed data
def test_full_backward_hooks_see_the_gradients_torchs_do_last_layer_first():
    model = three_layers()
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LeakyReLU(0.2), torch.nn.Linear(4, 2)).double()
    theirs.load_state_dict({k: torch.from_numpy(v.detach().numpy()) for k, v in model.state_dict().items()})
    seen = {"ours": [], "torch": []}

    def record(library):
        def hook(module, grad_input, grad_output):
            seen[library].append((type(module).__name__, [None if g is None else _numpy(g) for g in grad_input],
                                  [_numpy(g) for g in grad_output]))
        return hook

    for ours, torch_layer in zip(model, theirs):
        ours.register_full_backward_hook(record("ours"))
        torch_layer.register_full_backward_hook(record("torch"))
    x = numpy.random.default_rng(0).standard_normal((5, 3))
    v = numpy.random.default_rng(1).standard_normal((5, 2))
    (model(minigan.tensor(x)) * minigan.tensor(v)).sum().backward()
    (theirs(torch.from_numpy(x)) * torch.from_numpy(v)).sum().backward()

    assert [name for name, _, _ in seen["ours"]] == ["Linear", "LeakyReLU", "Linear"]
    assert [name for name, _, _ in seen["ours"]] == [name for name, _, _ in seen["torch"]]
    for (_, our_in, our_out), (_, their_in, their_out) in zip(seen["ours"], seen["torch"]):
        assert [g is None for g in our_in] == [g is None for g in their_in]  # the first layer's input is data
        for ours_g, theirs_g in zip(our_in + our_out, their_in + their_out):
            if ours_g is not None:
                assert_close(ours_g, theirs_g)


def _numpy(gradient):
    return gradient.detach().numpy() if hasattr(gradient, "detach") else gradient.numpy()


def test_a_full_backward_hook_may_replace_grad_input():
    model = three_layers()
    x = minigan.randn(4, 3, dtype=minigan.float64)
    model(x).sum().backward()
    plain = model[0].weight.grad.numpy().copy()
    model.zero_grad()
    handle = model[1].register_full_backward_hook(lambda module, grad_input, grad_output: (grad_input[0] * 3,))
    model(x).sum().backward()
    numpy.testing.assert_allclose(model[0].weight.grad.numpy(), 3 * plain, rtol=1e-12)
    handle.remove()
    model.zero_grad()
    model(x).sum().backward()
    numpy.testing.assert_array_equal(model[0].weight.grad.numpy(), plain)


# --------------------------------------------------------------------------------------------
# On each example's training step
# --------------------------------------------------------------------------------------------
def mlp_step():
    G, D = mnist_mlp.build_default()
    optimizers = [minigan.optim.Adam(m.parameters(), lr=5e-4, betas=(0.5, 0.999)) for m in (G, D)]
    real = minigan.rand(8, 784) * 2 - 1
    return (G, D), lambda: mnist_mlp.logits_step(G, D, *optimizers, real, lambda: minigan.rand(8, 96) * 2 - 1, 1.0)


def dcgan_step():
    G, D = dcgan.Generator(16, 4, 1, 32), dcgan.Discriminator(4, 1, 32)
    optimizers = [minigan.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999)) for m in (G, D)]
    real = minigan.rand(4, 1, 32, 32) * 2 - 1
    return (G, D), lambda: dcgan.train_step(G, D, nn.BCELoss(), *optimizers, real, 16)


def wgan_gp_step():
    G = dcgan.Generator(16, 4, 1, 32)
    critic = dcgan.Discriminator(4, 1, 32, norm=lambda width: nn.InstanceNorm2d(width, affine=True), sigmoid=False)
    optimizer_C = minigan.optim.Adam(critic.parameters(), lr=2e-4, betas=(0.5, 0.9))
    real = minigan.rand(4, 1, 32, 32) * 2 - 1
    return (G, critic), lambda: wgan_gp.critic_step(G, critic, optimizer_C, real, 16, 10.0)


STEPS = {"mnist_mlp": (mlp_step, "LinearMap"), "dcgan": (dcgan_step, "Conv2d"), "wgan_gp": (wgan_gp_step, "Conv2d")}


@pytest.mark.parametrize("name", sorted(STEPS))
def test_trace_and_hooks_work_on_each_example_step(name):
    minigan.manual_seed(0)
    make_step, main_op = STEPS[name]
    models, step = make_step()
    forward_calls, backward_calls = [], []
    for model in models:
        for layer in model.modules():
            if not list(layer.children()):  # the leaf layers
                layer.register_forward_hook(lambda m, inputs, output: forward_calls.append(output.shape))
                layer.register_full_backward_hook(lambda m, grad_input, grad_output: backward_calls.append(
                    grad_output[0].shape))
    with minigan.trace() as tape:
        step()
    names = {(entry.phase, entry.name) for entry in tape}
    assert ("forward", main_op) in names and ("backward", main_op) in names
    assert any(entry.phase == "optimizer" for entry in tape)
    assert forward_calls and backward_calls and all(len(shape) >= 2 for shape in forward_calls + backward_calls)
    if name == "wgan_gp":  # the penalty's double backward differentiates the critic's backward ops
        assert ("backward", "LeakyReLUGrad") in names


def test_the_slanted_faces_tape_shows_each_sgd_update_of_the_toy():
    """The toy has no Modules (so no module hooks); its tape has the three updates per face."""
    with minigan.trace() as tape:
        slanted_faces.train(epochs=1)
    top = top_level(tape)
    assert top.count(("optimizer", "SGD.step")) == 3 * len(slanted_faces.FACES)
    assert ("forward", "Sigmoid") in top and ("backward", "Sigmoid") in top and ("backward", "Log") in top
    # D's first op, image @ weights: a dot product of two 4-vectors, made of a Mul and a Sum
    first, second = list(tape)[:2]
    assert (first.name, first.input_shapes, first.output_shapes) == ("Mul", ((4,), (4,)), ((4,),))
    assert (second.name, second.input_shapes, second.output_shapes) == ("Sum", ((4,),), ((),))


class CollectsGarbage(Function):
    def forward(self, x):
        gc.collect()  # as if this op had made the object that tipped the collector over
        return x * 2

    def backward(self, grad_output):
        return grad_output * 2


def test_a_garbage_collection_gets_its_own_entry_and_is_not_counted_in_the_op_it_interrupted():
    x = leaf([1.0, 2.0])
    with minigan.trace() as tape:
        CollectsGarbage()(x)
    op = next(entry for entry in tape if entry.name == "CollectsGarbage")
    collections = tape.collections
    assert all(entry.phase != "gc" for entry in tape)  # the tape itself lists ops only
    assert collections and collections[0].name == "generation 2 collection"
    assert 0 <= op.seconds < collections[0].seconds  # a full collection takes far longer than x * 2
