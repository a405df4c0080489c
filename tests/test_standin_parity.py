"""The CUDA code path, checked on the CPU: parity tests and example runs with tensors on 'cuda'.

Every test here runs with 'cuda' backed by the stand-in device (minigan/testing/standin.py), whose
arrays refuse to meet host arrays and to turn into host arrays implicitly, as CuPy's do. So the
same op code that runs on a GPU runs here, and each host/device mix-up that would break it on a
GPU fails here, naming the op. Compared with torch on the CPU: float64 to a relative 1e-10,
forward, first and second order; float32 to 1e-5.

    ops          every op of test_ops.py's tables, moved to 'cuda' and back differentiably
    conv, norms, losses   their functional forms, to second order
    layers       every layer of test_nn.py's table, three training steps and one in eval
    optimizers   Adam and SGD, every option, parameters without gradients, a resume
    models       the MLP GAN step (float64 and float32), WGAN-GP, the penalty through DCGAN's critic
    examples     a few training steps of each example with --backend cupy, and no host sync in a step
"""
import math

import numpy
import pytest
from parity import assert_close, assert_matches_torch, on_cuda, torch
from test_examples import example, run_example
from test_models import dcgan, gradient_penalty, mlp_gan_step, mnist_mlp_gan, twins, wgan_gp, wgan_gp_step
from test_nn import LAYERS, assert_same_gradients, assert_same_state
from test_nn import twins as layer_twins
from test_ops import ACTIVATIONS, ARITHMETIC, COMPOSITIONS, INDEXING, MATMUL, REDUCTIONS, SHAPE
from test_optim import ADAM_CASES, SGD_CASES, every_third

import minigan
import minigan.nn.functional as F
from minigan.optim import SGD, Adam

pytestmark = pytest.mark.usefixtures("standin_cuda")
TF = torch.nn.functional


def host(tensor):
    return tensor.detach().numpy()


# --------------------------------------------------------------------------------------------
# Ops, convolutions, norms and losses: forward, first and second order
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ours, theirs, arrays",
                         ARITHMETIC + MATMUL + REDUCTIONS + SHAPE + INDEXING + ACTIVATIONS + COMPOSITIONS)
def test_op_on_cuda_matches_torch(ours, theirs, arrays):
    assert_matches_torch(on_cuda(ours), arrays, torch_fn=theirs)


def _arrays(*shapes, seed=0):
    rng = numpy.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


@pytest.mark.parametrize("kernel, stride, padding", [(3, 1, 1), (4, 2, 1), ((3, 2), (2, 1), (1, 2))])
def test_conv2d_and_conv_transpose2d_on_cuda_match_torch(kernel, stride, padding):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    options = dict(stride=stride, padding=padding)
    assert_matches_torch(on_cuda(lambda x, w, b: F.conv2d(x, w, b, **options)),
                         _arrays((2, 3, 7, 6), (4, 3, kh, kw), (4,)), lambda x, w, b: TF.conv2d(x, w, b, **options),
                         torch_fused=True)
    assert_matches_torch(on_cuda(lambda x, w, b: F.conv_transpose2d(x, w, b, **options)),
                         _arrays((2, 3, 4, 5), (3, 4, kh, kw), (4,)),
                         lambda x, w, b: TF.conv_transpose2d(x, w, b, **options), torch_fused=True)


NORMS = {
    "batch_norm": (lambda lib, x, w, b: lib.nn.functional.batch_norm(x, None, None, w, b, training=True),
                   (4, 3, 2, 5), (3,)),
    "instance_norm": (lambda lib, x, w, b: lib.nn.functional.instance_norm(x, weight=w, bias=b), (2, 3, 4, 5), (3,)),
    "layer_norm": (lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (4, 5), w, b), (2, 3, 4, 5), (4, 5)),
}


@pytest.mark.parametrize("norm, shape, param_shape", NORMS.values(), ids=NORMS.keys())
def test_norm_on_cuda_matches_torch(norm, shape, param_shape):
    assert_matches_torch(on_cuda(lambda *t: norm(minigan, *t)), _arrays(shape, param_shape, param_shape),
                         lambda *t: norm(torch, *t), torch_fused=True)


def _probabilities(*shape):
    return 1 / (1 + numpy.exp(-_arrays(shape, seed=1)[0]))


LOSSES = {  # name: (loss, inputs, which inputs require grad)
    "bce": (lambda lib, p, y, w: lib.nn.functional.binary_cross_entropy(p, y, weight=w),
            [_probabilities(4, 3), _probabilities(4, 3), _probabilities(3)], [True, True, False]),
    "bce_with_logits": (lambda lib, x, y, w, pw: lib.nn.functional.binary_cross_entropy_with_logits(
        x, y, weight=w, reduction="sum", pos_weight=pw),
        _arrays((4, 3), (4, 3)) + [_probabilities(4, 1), 3 * _probabilities(3)], [True, True, False, False]),
    "mse": (lambda lib, x, y: lib.nn.functional.mse_loss(x, y), _arrays((4, 3), (4, 3)), None),
}


@pytest.mark.parametrize("loss, arrays, grad_mask", LOSSES.values(), ids=LOSSES.keys())
def test_loss_on_cuda_matches_torch(loss, arrays, grad_mask):
    assert_matches_torch(on_cuda(lambda *t: loss(minigan, *t)), arrays, lambda *t: loss(torch, *t), grad_mask)


# --------------------------------------------------------------------------------------------
# Layers: training steps and eval, running statistics included
# --------------------------------------------------------------------------------------------
def assert_step_on_cuda_matches(ours, theirs, array, seed):
    """One forward and backward on 'cuda' against torch: output, input and parameter gradients."""
    ours.zero_grad()
    theirs.zero_grad()
    floating = array.dtype.kind == "f"
    x = minigan.tensor(array, requires_grad=floating, device="cuda")
    their_x = torch.tensor(array, requires_grad=floating)
    output, their_output = ours(x), theirs(their_x)
    assert output.device == "cuda"
    assert_close(host(output), host(their_output), what="output")
    incoming = numpy.random.default_rng(1000 + seed).standard_normal(tuple(their_output.shape))
    output.backward(minigan.tensor(incoming, device="cuda"))
    their_output.backward(torch.tensor(incoming))
    assert_close(x.grad.numpy(), their_x.grad.numpy(), what="input gradient")
    assert_same_gradients(ours.cpu(), theirs)
    ours.cuda()


@pytest.mark.parametrize("build, shape", LAYERS)
def test_layer_on_cuda_matches_torch_while_training_and_in_eval(build, shape):
    ours, theirs = layer_twins(build)
    ours.cuda()
    rng = numpy.random.default_rng(0)
    if not isinstance(ours, minigan.nn.Dropout):  # its random mask differs from torch's
        for step in range(3):
            assert_step_on_cuda_matches(ours, theirs, rng.normal(1.0, 2.0, shape), seed=step)
    ours.eval()
    theirs.eval()
    assert_step_on_cuda_matches(ours, theirs, rng.normal(1.0, 2.0, shape), seed=3)
    assert_same_state(ours.cpu(), theirs)


# --------------------------------------------------------------------------------------------
# Optimizers: flat buffers on the device
# --------------------------------------------------------------------------------------------
SHAPES = [(4, 3), (4,), (), (2, 3, 2)]


def run_optimizers_on_cuda(make_ours, make_theirs, steps=6, skipped=lambda step: ()):
    """Step a minigan optimizer over parameters on 'cuda' and a torch one side by side."""
    rng = numpy.random.default_rng(0)
    values = [rng.standard_normal(shape) for shape in SHAPES]
    ours = [minigan.tensor(value, requires_grad=True, device="cuda") for value in values]
    theirs = [torch.tensor(value, requires_grad=True) for value in values]
    our_optimizer, their_optimizer = make_ours(ours), make_theirs(theirs)
    for step in range(steps):
        for i, (mine, twin) in enumerate(zip(ours, theirs)):
            grad = rng.standard_normal(mine.shape)
            mine.grad = None if i in skipped(step) else minigan.tensor(grad, device="cuda")
            twin.grad = None if i in skipped(step) else torch.tensor(grad)
        our_optimizer.step()
        their_optimizer.step()
        for i, (mine, twin) in enumerate(zip(ours, theirs)):
            assert mine.device == "cuda"
            assert_close(host(mine), host(twin), what=f"parameter {i} after step {step}")
    return ours, our_optimizer


@pytest.mark.parametrize("options", ADAM_CASES.values(), ids=ADAM_CASES.keys())
def test_adam_on_cuda_matches_torch(options):
    run_optimizers_on_cuda(lambda p: Adam(p, **options), lambda p: torch.optim.Adam(p, **options))


@pytest.mark.parametrize("options", SGD_CASES.values(), ids=SGD_CASES.keys())
def test_sgd_on_cuda_matches_torch(options):
    run_optimizers_on_cuda(lambda p: SGD(p, **options), lambda p: torch.optim.SGD(p, **options))


def test_optimizers_on_cuda_skip_parameters_without_gradients_as_torch():
    options = {"lr": 0.05, "amsgrad": True}
    run_optimizers_on_cuda(lambda p: Adam(p, **options), lambda p: torch.optim.Adam(p, **options), steps=8,
                           skipped=every_third)


def test_adam_on_cuda_resumes_from_a_checkpoint_exactly(tmp_path):
    """Optimizer state saved from the device, loaded from the host file back onto the device."""
    def run(steps, resume_from=None):
        params = [minigan.tensor(numpy.ones(shape), requires_grad=True, device="cuda") for shape in SHAPES]
        optimizer = Adam(params, lr=0.1, amsgrad=True)
        if resume_from is not None:
            state = minigan.load(resume_from)
            for param, value in zip(params, state["params"]):
                param.array[...] = minigan.tensor(value, device="cuda").array
            optimizer.load_state_dict(state["optimizer"])
        for step in range(steps):
            for i, param in enumerate(params):
                param.grad = minigan.full(param.shape, math.sin(step + i), dtype=minigan.float64, device="cuda")
            optimizer.step()
        return params, optimizer

    params, optimizer = run(3)
    minigan.save({"params": params, "optimizer": optimizer.state_dict()}, tmp_path / "state.npz")
    resumed, _ = run(0, resume_from=tmp_path / "state.npz")
    assert all(type(value.array) is numpy.ndarray
               for value in minigan.load(tmp_path / "state.npz")["optimizer"]["state"][0].values())
    for mine, reference in zip(resumed, params):
        numpy.testing.assert_array_equal(host(mine), host(reference))


# --------------------------------------------------------------------------------------------
# Whole models: the seeds' steps, gradient penalties included
# --------------------------------------------------------------------------------------------
def test_mnist_mlp_gan_step_on_cuda_matches_torch():
    ours, theirs = twins(mnist_mlp_gan)
    ours.cuda()
    rng = numpy.random.default_rng(1)
    real, noise = rng.uniform(-1, 1, (4, 784)), rng.uniform(-1, 1, (2, 4, 96))
    d_loss, g_loss, d_grads = mlp_gan_step(minigan, ours, minigan.tensor(real, device="cuda"),
                                           minigan.tensor(noise, device="cuda"))
    their_d_loss, their_g_loss, their_d_grads = mlp_gan_step(torch, theirs, torch.tensor(real), torch.tensor(noise))
    assert_close(host(d_loss), host(their_d_loss), what="D loss")
    assert_close(host(g_loss), host(their_g_loss), what="G loss")
    for name, grad in d_grads.items():
        assert_close(host(grad), host(their_d_grads[name]), what=f"D loss gradient of {name}")
    assert_same_gradients(ours.cpu()[0], theirs[0])


def test_mnist_mlp_gan_step_on_cuda_in_float32_matches_torch_to_1e_5():
    torch.manual_seed(0)
    theirs = mnist_mlp_gan(torch)
    ours = mnist_mlp_gan(minigan)
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    ours.cuda()
    rng = numpy.random.default_rng(1)
    real, noise = rng.uniform(-1, 1, (8, 784)).astype("float32"), rng.uniform(-1, 1, (2, 8, 96)).astype("float32")
    d_loss, g_loss, d_grads = mlp_gan_step(minigan, ours, minigan.tensor(real, device="cuda"),
                                           minigan.tensor(noise, device="cuda"))
    their_d_loss, their_g_loss, their_d_grads = mlp_gan_step(torch, theirs, torch.tensor(real), torch.tensor(noise))
    assert d_loss.dtype == numpy.float32
    assert_close(host(d_loss), host(their_d_loss), rtol=1e-5, what="D loss")
    assert_close(host(g_loss), host(their_g_loss), rtol=1e-5, what="G loss")
    for name, grad in d_grads.items():
        assert_close(host(grad), host(their_d_grads[name]), rtol=1e-5, what=f"D loss gradient of {name}")
    for (name, param), their_param in zip(ours.cpu()[0].named_parameters(), theirs[0].parameters()):
        assert_close(param.grad.array, their_param.grad.numpy(), rtol=1e-5, what=f"G loss gradient of {name}")


def test_wgan_gp_step_on_cuda_matches_torch():
    ours, theirs = twins(wgan_gp)
    ours.cuda()
    rng = numpy.random.default_rng(4)
    arrays = rng.uniform(-1, 1, (2, 3, 64, 64)), rng.normal(0, 1, (2, 100, 1, 1)), rng.random((2, 1, 1, 1))
    d_loss, g_loss, d_grads = wgan_gp_step(minigan, ours, *[minigan.tensor(a, device="cuda") for a in arrays])
    their_d_loss, their_g_loss, their_d_grads = wgan_gp_step(torch, theirs, *[torch.tensor(a) for a in arrays])
    assert_close(host(d_loss), host(their_d_loss), what="critic loss")
    assert_close(host(g_loss), host(their_g_loss), what="generator loss")
    for name, grad in d_grads.items():
        assert_close(host(grad), host(their_d_grads[name]), what=f"critic loss gradient of {name}")
    assert_same_gradients(ours.cpu(), theirs)


def test_gradient_penalty_through_the_dcgan_critic_on_cuda_matches_torch():
    """DCGAN's discriminator (BatchNorm2d, LeakyReLU, Sigmoid) under a penalty: second order."""
    ours, theirs = twins(dcgan)
    critic, their_critic = ours[1].cuda(), theirs[1]
    x = numpy.random.default_rng(5).uniform(-1, 1, (2, 3, 64, 64))
    penalty = gradient_penalty(minigan, critic, minigan.tensor(x, device="cuda"))
    their_penalty = gradient_penalty(torch, their_critic, torch.tensor(x))
    assert_close(host(penalty), host(their_penalty), what="gradient penalty")
    penalty.backward()
    their_penalty.backward()
    assert_same_gradients(critic.cpu(), their_critic)
    assert_same_state(critic, their_critic)  # BatchNorm's running statistics, updated on the device


# --------------------------------------------------------------------------------------------
# The examples, with --backend cupy
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mnist_mlp", "mnist_mlp_bn", "mnist_mlp_small", "dcgan", "wgan_gp"])
def test_example_trains_on_cuda(name, mnist_fixture, tmp_path):
    summary = run_example(name, mnist_fixture, tmp_path, "--max-steps", "3", "--backend", "cupy")
    assert summary["steps"] == 3 and summary["backend"] == "cupy"
    assert all(numpy.isfinite(value) for value in summary["final_losses"].values())
    checkpoint = minigan.load(tmp_path / "checkpoint-00000003.npz")  # saved from the device, read on the host
    assert all(type(value.array) is numpy.ndarray for value in checkpoint["models"]["G"].values())


def _tiny_steps():
    """One training step of each example's model, tiny, on 'cuda': name -> step()."""
    mlp, dcgan_example, wgan = example("mnist_mlp"), example("dcgan"), example("wgan_gp")
    minigan.manual_seed(0)
    real = minigan.rand(4, 784, device="cuda") * 2 - 1
    images = minigan.rand(4, 1, 32, 32, device="cuda") * 2 - 1

    G, D = (model.cuda() for model in mlp.build_small())
    adam = lambda model: Adam(model.parameters(), lr=1e-3)  # noqa: E731
    optimizer_G, optimizer_D = adam(G), adam(D)
    mlp_step = lambda: mlp.logits_step(G, D, optimizer_G, optimizer_D, real,  # noqa: E731
                                       lambda: minigan.rand(4, 100, device="cuda"), 0.9)

    conv_G = dcgan_example.Generator(8, 2, 1, 32).cuda()
    conv_D = dcgan_example.Discriminator(2, 1, 32).cuda()
    critic = dcgan_example.Discriminator(2, 1, 32, norm=lambda w: minigan.nn.InstanceNorm2d(w, affine=True),
                                         sigmoid=False).cuda()
    optimizer_conv_G, optimizer_conv_D, optimizer_C = adam(conv_G), adam(conv_D), adam(critic)
    dcgan_step = lambda: dcgan_example.train_step(conv_G, conv_D, minigan.nn.BCELoss(), optimizer_conv_G,  # noqa: E731
                                                  optimizer_conv_D, images, 8)
    wgan_step = lambda: (wgan.critic_step(conv_G, critic, optimizer_C, images, 8, 10.0),  # noqa: E731
                         wgan.generator_step(conv_G, critic, optimizer_conv_G, 4, 8, "cuda"))
    return {"mnist_mlp": mlp_step, "dcgan": dcgan_step, "wgan_gp": wgan_step}


def test_a_training_step_on_cuda_never_waits_for_the_device(standin_cuda):
    """No .item(), float() or copy to the host inside a step: the GPU runs ahead of Python."""
    for name, step in _tiny_steps().items():
        step()  # the first step creates the optimizers' state
        standin_cuda.reset()
        step()
        assert standin_cuda.syncs == 0, f"{name}: {standin_cuda.syncs} host synchronisations in one step"
        assert standin_cuda.launches > 0, name
