"""What torch scripts rely on, checked against torch: pow at zero, type promotion, which gradients are
differentiable, `.data`, in-place ops and their version checks, optimizers seeing changes made
through `.data`, and the legacy and device idioms of public GAN scripts."""
import itertools

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parity import assert_close, assert_matches_torch, torch

import minigan
import minigan.nn as nn
import minigan.nn.functional as F
from minigan.autograd import Variable

rng = numpy.random.default_rng(5)
TF = torch.nn.functional


def both(array, requires_grad=False):
    """The same float64 values as a minigan and a torch tensor."""
    return (minigan.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


# --------------------------------------------------------------------------------------------
# ** at zero
# --------------------------------------------------------------------------------------------
def test_the_gradient_of_x_to_the_zero_is_zero_at_zero():
    """d/dx x^0 = 0 · x^-1, NaN at x = 0 if computed as written; torch takes 0."""
    assert_matches_torch(lambda x: x ** 0, [numpy.array([0.0, 2.0, -1.5])], second_order=False)
    assert_matches_torch(lambda x, b: x ** b, [numpy.array([0.0, 2.0, 0.0]), numpy.array([0.0, 0.0, 2.0])],
                         second_order=False)


def test_the_gradient_of_zero_to_a_negative_power_is_minus_infinity():
    ours, theirs = both(numpy.array([-1.0, -0.5, 0.0, 2.0]), requires_grad=True)
    with numpy.errstate(divide="ignore"):
        (0.0 ** ours).sum().backward()
    (0.0 ** theirs).sum().backward()
    numpy.testing.assert_array_equal(ours.grad.array, theirs.grad.numpy())
    assert ours.grad.array[0] == -numpy.inf


def test_the_exponents_gradient_at_base_zero_follows_torch():
    """d/db a^b = a^b log a: 0 where a = 0 and b >= 0, -inf where a = 0 and b < 0."""
    base = numpy.array([0.0, 0.0, 0.0, 1.5])
    exponent = numpy.array([2.0, 0.0, -1.0, 0.5])
    ours, theirs = zip(*(both(a, requires_grad=True) for a in (base, exponent)))
    with numpy.errstate(divide="ignore", invalid="ignore"):
        (ours[0] ** ours[1]).sum().backward()
    (theirs[0] ** theirs[1]).sum().backward()
    for mine, twin in zip(ours, theirs):
        numpy.testing.assert_array_equal(mine.grad.array, twin.grad.numpy())


# --------------------------------------------------------------------------------------------
# Type promotion
# --------------------------------------------------------------------------------------------
DTYPES = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"]


def _operand(kind, dtype, library):
    if kind == "number":
        return {"bool": True, "uint8": 3, "int32": 3, "int64": 3}.get(dtype, 2.5)
    shape = () if kind == "0-d" else (2,)
    return library.ones(shape, dtype=getattr(library, dtype) if library is torch else numpy.dtype(dtype))


@pytest.mark.parametrize("kinds", [("tensor", "tensor"), ("tensor", "0-d"), ("0-d", "tensor"), ("tensor", "number"),
                                   ("0-d", "number"), ("0-d", "0-d")], ids="-".join)
def test_binary_ops_promote_dtypes_as_torch(kinds):
    for first, second in itertools.product(DTYPES, repeat=2):
        if kinds[1] == "number" and second not in ("bool", "int64", "float64"):
            continue  # a Python number has one dtype per kind
        ours = [_operand(kind, dtype, minigan) for kind, dtype in zip(kinds, (first, second))]
        theirs = [_operand(kind, dtype, torch) for kind, dtype in zip(kinds, (first, second))]
        expected = torch.result_type(*theirs)
        assert minigan.result_type(*ours) == numpy.dtype(str(expected).removeprefix("torch.")), (first, second)
        if "bool" in (first, second) or first == second == "float16":
            continue  # numpy has no arithmetic on bool; float16 is left to numpy
        for name, op in (("add", lambda a, b: a + b), ("mul", lambda a, b: a * b), ("div", lambda a, b: a / b)):
            result = op(*ours)
            assert result.dtype == numpy.dtype(str(op(*theirs).dtype).removeprefix("torch.")), (name, first, second)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "tanh", "sigmoid", "rsqrt", "abs", "neg"])
def test_unary_ops_of_integers_give_torchs_dtype(name):
    ours, theirs = minigan.tensor([1, 2, 3]), torch.tensor([1, 2, 3])
    result, expected = getattr(ours, name)(), getattr(theirs, name)()
    assert str(result.dtype) == str(expected.dtype).removeprefix("torch.")
    assert_close(result.array, expected.numpy(), rtol=1e-6)


def test_true_division_of_integers_gives_the_default_float():
    assert (minigan.tensor(7) / 2).dtype == numpy.float32 and (minigan.tensor([7]) / minigan.tensor([2])).item() == 3.5


def test_where_takes_python_numbers():
    condition = minigan.tensor([True, False, True])
    for a, b in ((4, 2), (4.5, 2), (4, minigan.tensor([1.0, 2.0, 3.0]))):
        ours = minigan.where(condition, a, b)
        theirs = torch.where(torch.tensor([True, False, True]), a, torch.tensor([1.0, 2.0, 3.0]) if
                             isinstance(b, minigan.Tensor) else b)
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.") and ours.tolist() == theirs.tolist()


def test_where_refuses_a_condition_that_is_not_bool():
    with pytest.raises(TypeError, match="bool"):
        minigan.where(minigan.tensor([1.0, 0.0]), 1.0, 2.0)


# --------------------------------------------------------------------------------------------
# A gradient made with create_graph is differentiable exactly where torch's is
# --------------------------------------------------------------------------------------------
PIECEWISE = {
    "abs": lambda lib, x: x.abs(),
    "relu": lambda lib, x: x.relu(),
    "leaky_relu": lambda lib, x: lib.nn.functional.leaky_relu(x, 0.2),
    "clamp": lambda lib, x: x.clamp(-0.5, 1.0),
    "clamp min": lambda lib, x: x.clamp(min=0.0),
    "maximum": lambda lib, x: lib.maximum(x, x * 0 + 0.5),
    "minimum": lambda lib, x: lib.minimum(x, x * 0 + 0.5),
    "sign times x": lambda lib, x: x.sign() * x,
    "where": lambda lib, x: lib.where(x > 0, x, 2 * x),
}


@pytest.mark.parametrize("name", PIECEWISE)
def test_piecewise_linear_gradients_are_in_the_graph_where_torchs_are(name):
    """torch: abs's gradient (g · sgn x) and relu's are in the graph, with zero derivatives;
    clamp's, maximum's and where's select g by a mask and are not."""
    function = PIECEWISE[name]
    x = numpy.array([-1.0, 0.25, 2.0, -0.75])
    ours, theirs = both(x, requires_grad=True)
    v = numpy.array([1.0, -2.0, 0.5, 3.0])
    (our_grad,) = minigan.grad(function(minigan, ours), ours, minigan.tensor(v), create_graph=True)
    (their_grad,) = torch.autograd.grad(function(torch, theirs), theirs, torch.tensor(v), create_graph=True)
    assert our_grad.requires_grad == their_grad.requires_grad
    assert_close(our_grad.array, their_grad.detach().numpy())
    if their_grad.requires_grad:
        (our_second,) = minigan.grad(our_grad.sum(), ours, allow_unused=True)
        (their_second,) = torch.autograd.grad(their_grad.sum(), theirs, allow_unused=True)
        assert (our_second is None) == (their_second is None)
        if their_second is not None:
            assert_close(our_second.array, their_second.numpy(force=True))


# --------------------------------------------------------------------------------------------
# Exceptions: torch's class is caught
# --------------------------------------------------------------------------------------------
MISUSE = {  # (minigan call, the same call in torch)
    "matmul shapes": lambda lib: lib.ones(2, 3) @ lib.ones(4, 5),
    "broadcast": lambda lib: lib.ones(2, 3) + lib.ones(4, 5),
    "reshape": lambda lib: lib.ones(2, 3).reshape(4, 2),
    "permute": lambda lib: lib.ones(2, 3).permute(0, 0),
    "cat": lambda lib: lib.cat([lib.ones(2, 3), lib.ones(2, 4)]),
    "conv channels": lambda lib: lib.nn.functional.conv2d(lib.ones(1, 2, 5, 5), lib.ones(3, 4, 3, 3)),
    "linear shapes": lambda lib: lib.nn.Linear(4, 2)(lib.ones(3, 5)),
    "batch norm channels": lambda lib: lib.nn.BatchNorm2d(4)(lib.ones(2, 3, 5, 5)),
    "item of many": lambda lib: lib.ones(3).item(),
    "matmul dtypes": lambda lib: lib.ones(2, 3) @ lib.ones(3, 2, dtype=lib.float64),
    "leaf in place": lambda lib: lib.ones(2, requires_grad=True).add_(1),
    "expand": lambda lib: lib.ones(2, 3).expand(4, 3),
}


@pytest.mark.parametrize("name", MISUSE)
def test_a_misuse_raises_an_error_that_torchs_except_clause_catches(name):
    call = MISUSE[name]
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(Exception) as ours:
        call(minigan)
    assert isinstance(ours.value, type(theirs.value)), f"torch raises {type(theirs.value).__name__}, " \
                                                       f"minigan {type(ours.value).__name__}: {ours.value}"


# --------------------------------------------------------------------------------------------
# .data
# --------------------------------------------------------------------------------------------
def test_data_is_a_tensor_sharing_storage_outside_the_graph():
    p = nn.Parameter(minigan.tensor([1.0, -3.0, 2.0]))
    data = p.data
    assert isinstance(data, minigan.Tensor) and not isinstance(data, nn.Parameter)
    assert not data.requires_grad and data.is_leaf and data.grad_fn is None
    data.clamp_(-1.0, 1.0)  # the WGAN weight clip
    assert p.tolist() == [1.0, -1.0, 1.0] and p.requires_grad
    assert p._version == 0 and data._version == 1  # its own version counter, as torch's .data


def test_assigning_data_replaces_the_storage_and_keeps_the_object():
    p = nn.Parameter(minigan.zeros(3))
    replacement = minigan.tensor([1.0, 2.0], dtype=minigan.float64)
    p.data = replacement
    assert p.shape == (2,) and p.dtype == numpy.float64 and p.requires_grad
    replacement.fill_(7.0)
    assert p.tolist() == [7.0, 7.0]  # the same storage


def test_dcgan_initialisation_through_data_is_seeded_and_in_place():
    layer = nn.Conv2d(3, 8, 4)
    weight = layer.weight
    minigan.manual_seed(0)
    layer.weight.data.normal_(0.0, 0.02)
    layer.bias.data.fill_(0)
    assert layer.weight is weight and abs(float(weight.std()) - 0.02) < 0.005 if hasattr(weight, "std") else True
    assert abs(float(weight.array.std()) - 0.02) < 0.005 and not layer.bias.array.any()
    minigan.manual_seed(0)
    again = minigan.zeros(8, 3, 4, 4).normal_(0.0, 0.02)
    numpy.testing.assert_array_equal(again.array, weight.array)


# --------------------------------------------------------------------------------------------
# In-place ops
# --------------------------------------------------------------------------------------------
IN_PLACE = {  # name: (the in-place call, its out-of-place twin in torch)
    "add_": lambda t, o: t.add_(o), "sub_": lambda t, o: t.sub_(o, alpha=2), "mul_": lambda t, o: t.mul_(o),
    "div_": lambda t, o: t.div_(o), "+=": lambda t, o: t.__iadd__(o), "-=": lambda t, o: t.__isub__(o),
    "*=": lambda t, o: t.__imul__(o), "/=": lambda t, o: t.__itruediv__(o),
    "clamp_": lambda t, o: t.clamp_(-0.5, 0.5), "masked_fill_": lambda t, o: t.masked_fill_(o > 0, 2.0),
    "fill_": lambda t, o: t.fill_(1.5), "zero_": lambda t, o: t.zero_(), "copy_": lambda t, o: t.copy_(o),
    "pow_": lambda t, o: t.pow_(2), "relu_": lambda t, o: t.relu_(), "sigmoid_": lambda t, o: t.sigmoid_(),
    "tanh_": lambda t, o: t.tanh_(), "exp_": lambda t, o: t.exp_(), "setitem": lambda t, o: t.__setitem__(1, o[0]),
}


@pytest.mark.parametrize("name", IN_PLACE)
@pytest.mark.parametrize("other_requires_grad", [False, True], ids=["constant", "operand requires grad"])
def test_an_in_place_op_on_a_tensor_of_the_graph_is_recorded_as_torch_records_it(name, other_requires_grad):
    """y = x · 1 (a non-leaf); y.op_(other); then y is used again: values, first and second order."""
    call = IN_PLACE[name]

    def function(x, other):
        y = x * 1.0
        result = call(y, other)
        assert result is y or name == "setitem"
        return (y * x).sum() + y.sum()

    arrays = [rng.standard_normal(4), rng.uniform(0.5, 1.5, 4)]
    assert_matches_torch(function, arrays, grad_mask=[True, other_requires_grad])


def test_in_place_ops_bump_the_version_and_backward_refuses_a_modified_saved_tensor():
    x = minigan.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # saves its output
    y.add_(1.0)
    assert y._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*output of Exp"):
        y.sum().backward()
    theirs = torch.tensor([1.0, 2.0], requires_grad=True).exp()
    theirs.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        theirs.sum().backward()


def test_an_in_place_op_on_an_input_saved_by_mul_is_refused_at_backward():
    x = minigan.tensor([1.0, 2.0], requires_grad=True)
    w = minigan.tensor([3.0, 4.0])
    y = x * w
    w.mul_(2)  # w is saved by Mul for x's gradient
    with pytest.raises(RuntimeError, match="input 1 of Mul.*version 1; expected version 0"):
        y.sum().backward()


def test_detach_shares_the_version_counter_and_data_does_not():
    x = minigan.tensor([1.0, 2.0], requires_grad=True)
    y = x.sigmoid()
    y.detach().zero_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    z = x.sigmoid()
    z.data.zero_()  # torch's hazard, kept: changes through .data are not seen
    z.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("library", [minigan, torch], ids=["minigan", "torch"])
def test_in_place_on_a_leaf_that_requires_grad_is_refused_and_allowed_under_no_grad(library):
    x = library.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        x[1:].mul_(2)
    with library.no_grad():
        x.add_(1)
        x.data.mul_(2)
    assert x.tolist() == [4.0, 4.0, 4.0] and x.requires_grad and x.is_leaf


def test_an_in_place_op_on_a_view_in_the_graph_is_refused_naming_the_way_out():
    x = minigan.ones(2, 3, requires_grad=True) * 1.0
    with pytest.raises(RuntimeError, match="view.*out-of-place"):
        x[0].add_(1)
    flat = x.reshape(6)
    with pytest.raises(RuntimeError, match="tensor with views.*out-of-place"):
        x.mul_(2)
    del flat
    x.mul_(2)  # the view is gone: nothing can go stale


def test_in_place_results_are_cast_to_the_tensors_dtype_or_refused():
    x = minigan.zeros(2)
    x.add_(minigan.tensor([1.0, 2.0], dtype=minigan.float64))
    assert x.dtype == numpy.float32 and x.tolist() == [1.0, 2.0]
    counts = minigan.zeros(2, dtype=minigan.int64)
    with pytest.raises(RuntimeError, match="can't be cast"):
        counts.add_(0.5)
    with pytest.raises(RuntimeError, match="does not match"):
        minigan.zeros(3).add_(minigan.ones(2, 3))


def test_relu_and_leaky_relu_inplace_write_into_their_input():
    for layer, expected in ((nn.ReLU(inplace=True), [0.0, 2.0]), (nn.LeakyReLU(0.5, inplace=True), [-0.5, 2.0])):
        x = minigan.tensor([-1.0, 2.0])
        assert layer(x) is x and x.tolist() == expected
    x = minigan.tensor([-1.0, 2.0])
    F.relu(x)
    assert x.tolist() == [-1.0, 2.0]


def test_a_network_with_inplace_activations_matches_torch_to_second_order():
    def network(lib):
        def run(x, w1, w2):
            h = lib.nn.functional.leaky_relu(x @ w1, 0.2, inplace=True)
            h = lib.nn.functional.relu(h @ w2, inplace=True)
            return h.sum(1)
        return run

    arrays = [rng.standard_normal((5, 4)), rng.standard_normal((4, 6)), rng.standard_normal((6, 3))]
    assert_matches_torch(network(minigan), arrays, torch_fn=network(torch))


# --------------------------------------------------------------------------------------------
# Optimizers see what was done through .data
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["Adam", "SGD"])
def test_weight_clipping_through_data_between_steps_matches_torch(optimizer):
    """The original WGAN: after each critic step, p.data.clamp_(-c, c)."""
    values = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    ours = [nn.Parameter(minigan.tensor(v)) for v in values]
    theirs = [torch.nn.Parameter(torch.tensor(v)) for v in values]
    options = {"lr": 0.3, "momentum": 0.9} if optimizer == "SGD" else {"lr": 0.3}
    our_optimizer = getattr(minigan.optim, optimizer)(ours, **options)
    their_optimizer = getattr(torch.optim, optimizer)(theirs, **options)
    x = rng.standard_normal((5, 3))
    for _ in range(5):
        for params, opt, lib in ((ours, our_optimizer, minigan), (theirs, their_optimizer, torch)):
            opt.zero_grad()
            ((lib.tensor(x) @ params[0] + params[1]).tanh().mean()).backward()
            opt.step()
            for p in params:
                p.data.clamp_(-0.5, 0.5)
    for mine, twin in zip(ours, theirs):
        assert_close(mine.array, twin.detach().numpy())


def test_a_parameter_whose_data_was_replaced_is_optimized_in_its_new_storage():
    p = nn.Parameter(minigan.zeros(2))
    optimizer = minigan.optim.SGD([p], lr=1.0)
    p.data = minigan.tensor([5.0, 6.0])
    p.grad = minigan.tensor([1.0, 1.0])
    optimizer.step()
    assert p.tolist() == [4.0, 5.0]


@pytest.mark.parametrize("library", [minigan, torch], ids=["minigan", "torch"])
def test_stepping_between_a_forward_and_its_backward_is_refused(library):
    """The classic GAN mistake: D steps, then G's loss (computed through the old D) is backpropagated."""
    layer = library.nn.Linear(3, 1)
    optimizer = library.optim.SGD(layer.parameters(), lr=0.1)
    hidden = library.ones(2, 3, requires_grad=True) * 2
    loss = layer(hidden).sum()
    loss.backward(retain_graph=True)
    optimizer.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


# --------------------------------------------------------------------------------------------
# Legacy and device idioms
# --------------------------------------------------------------------------------------------
def test_legacy_tensor_types_make_convert_and_recognise_tensors():
    Tensor = minigan.FloatTensor
    valid = Tensor(4, 1).fill_(1.0)
    assert valid.shape == (4, 1) and valid.dtype == numpy.float32 and valid.tolist() == [[1.0]] * 4
    z = Tensor(numpy.random.default_rng(0).normal(0, 1, (2, 3)))  # float64 data, converted
    assert z.dtype == numpy.float32 and isinstance(z, minigan.FloatTensor) and not isinstance(z, minigan.LongTensor)
    images = minigan.tensor([[1, 2]], dtype=minigan.uint8).type(Tensor)
    assert images.dtype == numpy.float32 and images.type() == "torch.FloatTensor"
    assert minigan.LongTensor([1, 2]).type() == torch.LongTensor([1, 2]).type() == "torch.LongTensor"
    assert minigan.tensor([1.0]).type("torch.DoubleTensor").dtype == numpy.float64
    assert minigan.Tensor(2, 3).shape == (2, 3) and minigan.Tensor([1, 2]).dtype == numpy.float32
    assert repr(minigan.cuda.FloatTensor) == "<class 'torch.cuda.FloatTensor'>"


def test_legacy_cuda_types_make_tensors_on_the_device(standin_cuda):
    valid = minigan.cuda.FloatTensor(3, 1).fill_(1.0)
    assert valid.is_cuda and valid.type() == "torch.cuda.FloatTensor"
    assert minigan.tensor([1, 2]).type(minigan.cuda.LongTensor).device == "cuda"


def test_conversions_by_name_as_torch():
    x = minigan.tensor([1.7, -0.2, 0.0])
    t = torch.tensor([1.7, -0.2, 0.0])
    for name in ("long", "int", "bool", "float", "double", "byte", "half"):
        assert str(getattr(x, name)().dtype) == str(getattr(t, name)().dtype).removeprefix("torch."), name
        assert getattr(x, name)().tolist() == getattr(t, name)().tolist(), name


def test_devices_as_torch_spells_them(standin_cuda):
    cpu, gpu = minigan.device("cpu"), minigan.device("cuda:0")
    assert (cpu.type, gpu.type, gpu.index, str(gpu)) == ("cpu", "cuda", 0, "cuda:0")
    assert repr(gpu) == repr(torch.device("cuda:0")) and repr(cpu) == repr(torch.device("cpu"))
    x = minigan.ones(2, device=cpu)
    assert not x.is_cuda and x.device.type == "cpu" and not x.is_xpu
    y = x.to(gpu)
    assert y.is_cuda and y.device == minigan.device("cuda") and repr(y.device) == "device(type='cuda', index=0)"
    assert y.cpu().device.type == "cpu" and x.cuda().is_cuda
    z = minigan.ones(2, dtype=minigan.float64).to(y)  # another tensor's device and dtype
    assert z.is_cuda and z.dtype == numpy.float32


def test_variable_returns_a_tensor_as_in_torch():
    t = minigan.ones(2)
    v = Variable(t, requires_grad=True)
    assert isinstance(v, minigan.Tensor) and v.requires_grad and not t.requires_grad
    assert isinstance(t, Variable)
    v.data.add_(1)  # the same storage
    assert t.tolist() == [2.0, 2.0]
    assert isinstance(Variable(minigan.ones(1)), minigan.Tensor)


def test_grad_takes_torchs_whole_signature():
    x, unused = minigan.tensor([1.0, 2.0], requires_grad=True), minigan.tensor([3.0], requires_grad=True)
    gx, gu = minigan.grad((x * x).sum(), [x, unused], only_inputs=True, materialize_grads=True)
    assert gx.tolist() == [2.0, 4.0] and gu.tolist() == [0.0]
    gx, gu = minigan.grad((x * x).sum(), [x, unused], allow_unused=True)
    assert gu is None


def test_backward_with_inputs_fills_only_their_grad():
    a, b = minigan.tensor([1.0], requires_grad=True), minigan.tensor([2.0], requires_grad=True)
    (a * b).sum().backward(inputs=[a])
    assert a.grad.tolist() == [2.0] and b.grad is None


def test_cudnn_flags_and_nn_parallel_are_there():
    import minigan.backends.cudnn as cudnn
    import minigan.nn.parallel
    cudnn.benchmark = True
    assert cudnn.benchmark is True and cudnn.is_available() is False
    try:
        minigan.backends.cuda.matmul.allow_tf32 = True
        assert cudnn.allow_tf32 and minigan.backend.tf32_allowed()
    finally:
        cudnn.allow_tf32 = False
    assert not minigan.backend.tf32_allowed()
    model = nn.Linear(3, 2)
    wrapped = nn.DataParallel(model, device_ids=[0])
    x = minigan.ones(4, 3)
    assert wrapped(x).tolist() == model(x).tolist() and list(wrapped.state_dict()) == ["module.weight", "module.bias"]
    assert minigan.nn.parallel.data_parallel(model, x, range(1)).tolist() == model(x).tolist()
    with pytest.raises(NotImplementedError, match="one GPU per process.*DistributedDataParallel"):
        minigan.nn.parallel.data_parallel(model, x, range(2))


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(0, 3), min_size=1, max_size=3))
def test_legacy_constructors_take_sizes_as_torch(sizes):
    assert minigan.FloatTensor(*sizes).shape == tuple(torch.FloatTensor(*sizes).shape)
