"""Reliability: every misuse a user can make ends in an error that names its cause, and
detect_anomaly() names the op that first made a NaN or an Inf.

The error table is the list docs/ERRORS.md documents: a test below checks that every row's
message is quoted there, so the page cannot fall behind the code."""
import dataclasses
import os
import re
import sys
from typing import Callable

import numpy
import pytest

import minigan
import minigan.nn as nn
import minigan.nn.functional as F
from minigan.autograd import Function
from minigan.testing import standin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))
import mnist_mlp  # noqa: E402


@dataclasses.dataclass
class Misuse:
    name: str
    call: Callable  # call(tmp_path) makes the mistake
    error: type
    message: str    # a regular expression the message must match: it names the cause


def _backward_twice(_):
    x = minigan.randn(2, requires_grad=True)
    y = x.exp().sum()
    y.backward()
    y.backward()


def _grad_of_unused_input(_):
    x, unused = minigan.randn(2, requires_grad=True), minigan.randn(2, requires_grad=True)
    minigan.grad((x * 2).sum(), [x, unused])


def _bad_state_dict(_):
    model = nn.Linear(2, 3)
    state = model.state_dict()
    del state["bias"]
    state["extra"], state["weight"] = minigan.zeros(1), minigan.zeros(4, 4)
    model.load_state_dict(state)


def _modified_after_saved(_):
    y = minigan.randn(2, requires_grad=True).exp()
    y += 1
    y.sum().backward()


def _mixed_devices(_):
    with standin.use_for_cuda():
        minigan.randn(2) + minigan.randn(2, device="cuda")


def _pickle_in_an_npz(tmp_path):
    path = tmp_path / "pickled.npz"
    numpy.savez(path, minigan=numpy.array([{"a": 1}], dtype=object))  # an object array: stored as a pickle
    minigan.load(str(path))


def _example(*argv):
    return lambda tmp_path: mnist_mlp.main(list(argv) + ["--out", str(tmp_path / "run")])


MISUSES = [
    Misuse("Linear given images", lambda _: nn.Linear(784, 256)(minigan.randn(2, 3, 28, 28)), minigan.ShapeError,
           r"expected an input of shape \(\*, 784\), got shape \(2, 3, 28, 28\); to feed images, flatten them first "
           r"\(nn.Flatten\(\)"),
    Misuse("conv with the wrong input channels", lambda _: nn.Conv2d(3, 8, 3)(minigan.randn(2, 1, 28, 28)), minigan.ShapeError,
           r"Conv2d\(3, 8, .*expected an input of shape \(N, 3, H, W\) with in_channels=3, got shape \(2, 1, 28, 28\)"),
    Misuse("kernel larger than the padded input", lambda _: nn.Conv2d(1, 8, 7)(minigan.randn(2, 1, 4, 4)), minigan.ShapeError,
           r"conv2d: kernel 7x7 .* is larger than the padded input 4x4"),
    Misuse("transposed conv with the wrong channels", lambda _: nn.ConvTranspose2d(4, 2, 3)(minigan.randn(2, 3, 5, 5)),
           minigan.ShapeError, r"ConvTranspose2d\(4, 2, .*in_channels=4, got shape \(2, 3, 5, 5\)"),
    Misuse("BatchNorm with the wrong channels", lambda _: nn.BatchNorm2d(4)(minigan.randn(2, 3, 5, 5)), minigan.ShapeError,
           r"BatchNorm2d\(4, .*expected 4 channels \(num_features\) in dim 1 of the input, got shape \(2, 3, 5, 5\)"),
    Misuse("matmul of incompatible shapes", lambda _: minigan.randn(2, 3) @ minigan.randn(4, 5), minigan.ShapeError,
           r"matmul: shapes \(2, 3\) and \(4, 5\) cannot be multiplied"),
    Misuse("a dot product of vectors of different lengths", lambda _: minigan.randn(1) @ minigan.randn(2), minigan.ShapeError,
           r"matmul: the dot product of vectors needs equal lengths, got shapes \(1,\) and \(2,\)"),
    Misuse("elementwise op on shapes that do not broadcast", lambda _: minigan.randn(2, 3) + minigan.randn(4, 5),
           minigan.ShapeError, r"Add: cannot broadcast shapes \(2, 3\) and \(4, 5\)"),
    Misuse("reshape to another size", lambda _: minigan.randn(2, 3).reshape(4, 2), minigan.ShapeError,
           r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into shape \(4, 2\)"),
    Misuse("cat of mismatched shapes", lambda _: minigan.cat([minigan.randn(2, 3), minigan.randn(2, 4)]), minigan.ShapeError,
           r"cat: shapes \(2, 3\), \(2, 4\) must match in every dim but dim 0"),
    Misuse("reduction over a dim that does not exist", lambda _: minigan.randn(2, 3).sum(5), IndexError,
           r"sum: dim 5 is out of range for a tensor with 2 dimensions"),
    Misuse("an integer tensor asking for grad", lambda _: minigan.tensor([1, 2], requires_grad=True), RuntimeError,
           r"only floating-point tensors can require gradients, got dtype int64; convert first"),
    Misuse("a float64 input to a float32 layer", lambda _: nn.Linear(2, 2)(minigan.randn(3, 2, dtype=minigan.float64)),
           minigan.DTypeError, r"linear: input has dtype float64 but weight has dtype float32; convert one of them"),
    Misuse("a matmul of float32 and float64", lambda _: minigan.randn(2, 3) @ minigan.randn(3, 2, dtype=minigan.float64),
           minigan.DTypeError, r"matmul: expected both operands to have the same dtype, got float32 and float64"),
    Misuse("where given a condition that is not bool", lambda _: minigan.where(minigan.ones(2), 1.0, 0.0),
           minigan.DTypeError, r"where: the condition must be a bool tensor, got float32; compare first"),
    Misuse("a negative step in a slice", lambda _: minigan.randn(4)[::-1], ValueError,
           r"getitem: step must be greater than zero, got slice\(None, None, -1\); torch has no negative steps"),
    Misuse("an in-place op on a leaf that requires grad", lambda _: minigan.ones(2, requires_grad=True).add_(1),
           RuntimeError, r"add_: a leaf Variable that requires grad is being used in an in-place operation"),
    Misuse("an in-place op on a view in the graph", lambda _: (minigan.ones(2, 3, requires_grad=True) * 1)[0].add_(1),
           RuntimeError, r"add_: in-place op on a view .* in the graph .*: torch rewrites the views' history"),
    Misuse("an in-place result that the tensor's dtype cannot hold", lambda _: minigan.zeros(2, dtype=minigan.int64).add_(0.5),
           minigan.DTypeError, r"add_: the result's dtype float32 can't be cast to the dtype int64"),
    Misuse("a tensor changed in place after an op saved it", _modified_after_saved, RuntimeError,
           r"modified by an inplace operation: the output of Exp .* is at version 1; expected version 0"),
    Misuse("mixing devices", _mixed_devices, minigan.DeviceMismatchError,
           r"Add: inputs are on different devices: cpu and cuda"),
    Misuse("backward twice without retain_graph", _backward_twice, RuntimeError,
           r"backpropagate through a graph a second time.*pass retain_graph=True"),
    Misuse("grad of an input the output does not use", _grad_of_unused_input, RuntimeError,
           r"grad: input 1 \(shape \(2,\)\) was not used to compute the outputs; pass allow_unused=True"),
    Misuse("a state dict with missing, unexpected and mis-shaped keys", _bad_state_dict, RuntimeError,
           r'(?s)Missing key\(s\) in state_dict: "bias".*Unexpected key\(s\) in state_dict: "extra".*'
           r"size mismatch for weight: .*\(4, 4\).*\(3, 2\)"),
    Misuse("BCE given values outside [0, 1]",
           lambda _: F.binary_cross_entropy(minigan.tensor([1.5]), minigan.tensor([1.0])), minigan.ValueRangeError,
           r"binary_cross_entropy: every element of input must lie in \[0, 1\], but input holds values in \[1.5, 1.5\]"),
    Misuse("cross-entropy given a class index out of range",
           lambda _: F.cross_entropy(minigan.randn(2, 3), minigan.tensor([0, 3])), IndexError,
           r"cross_entropy: class indices must lie in \[0, 3\)"),
    Misuse("an optimizer given no parameters", lambda _: minigan.optim.Adam([]), ValueError,
           r"Adam: optimizer got an empty parameter list"),
    Misuse("an optimizer given a negative learning rate",
           lambda _: minigan.optim.SGD([minigan.randn(2, requires_grad=True)], lr=-1), ValueError, r"SGD: .*lr"),
    Misuse("a file that is not a checkpoint", lambda tmp_path: minigan.load(__file__), minigan.CheckpointError,
           r"not a minigan checkpoint: it is not an .npz \(zip\) file"),
    Misuse("an .npz that carries a pickle", _pickle_in_an_npz, minigan.CheckpointError, r"pickle"),
    Misuse("a data folder without MNIST's files",
           lambda tmp_path: minigan.data.load_mnist(str(tmp_path), download=False), FileNotFoundError,
           r"MNIST files not found in .*: expected train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz"),
    Misuse("a flag out of range", _example("--batch-size", "0"), SystemExit, r"2"),
    Misuse("a learning rate that is not positive", _example("--lr", "0"), SystemExit, r"2"),
]


@pytest.mark.parametrize("misuse", MISUSES, ids=[m.name for m in MISUSES])
def test_each_misuse_gets_an_error_that_names_its_cause(misuse, tmp_path):
    with pytest.raises(misuse.error, match=misuse.message):
        misuse.call(tmp_path)


@pytest.mark.parametrize("flags, message", [
    (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["--lr", "0"], "--lr must be positive, got 0.0"),
    (["--log-every", "-3"], "--log-every must be at least 1, got -3"),
])
def test_example_flags_out_of_range_are_refused_naming_the_flag(flags, message, tmp_path, capsys):
    with pytest.raises(SystemExit):
        _example(*flags)(tmp_path)
    assert message in capsys.readouterr().err


def test_float32_meeting_float64_promotes_to_float64_as_torch_does():
    """The documented choice (docs/ERRORS.md): ops promote as torch; layers refuse a mismatch."""
    assert (minigan.randn(2) + minigan.randn(2, dtype=minigan.float64)).dtype == minigan.float64
    assert (minigan.randn(2) * 2.5).dtype == minigan.float32  # a Python number takes the tensor's dtype


def test_errors_md_lists_every_misuse_of_the_table_with_its_class():
    with open(os.path.join(ROOT, "docs", "ERRORS.md")) as page:
        rows = [line for line in page if line.startswith("|")]
    missing = [m.name for m in MISUSES if not any(line.startswith(f"| {m.name} |") for line in rows)]
    assert not missing, f"docs/ERRORS.md does not mention: {missing}"
    wrong = [m.name for m in MISUSES for line in rows if line.startswith(f"| {m.name} |")
             and f"`{m.error.__name__}`" not in line.split("|")[2]]
    assert not wrong, f"docs/ERRORS.md names another exception class for: {wrong}"


# --------------------------------------------------------------------------------------------
# detect_anomaly
# --------------------------------------------------------------------------------------------
def test_anomaly_mode_names_the_forward_op_that_made_a_nan_and_the_users_line():
    x = minigan.tensor([1.0, -1.0], requires_grad=True)
    with minigan.detect_anomaly(), numpy.errstate(invalid="ignore"), pytest.raises(minigan.AnomalyError) as caught:
        y = x * 2
        y.log()  # log(-2) = NaN
    message = str(caught.value)
    assert message.startswith("Log forward produced NaN: its inputs were finite, so this op made it.")
    assert f"{__file__}:" in message and "input shapes: (2,)" in message


def test_anomaly_mode_names_the_backward_that_made_an_inf():
    x = minigan.tensor([0.0, 4.0], requires_grad=True)
    with minigan.detect_anomaly(), numpy.errstate(divide="ignore"):
        y = (x * x).sqrt().sum()  # d/du sqrt(u) at u = 0 is infinite
        with pytest.raises(minigan.AnomalyError, match=r"^Sqrt backward \(in its Div op\) produced Inf"):
            y.backward()


class NaNBackward(Function):
    def forward(self, x):
        return x * 1.0

    def backward(self, grad_output):
        return grad_output.array.dtype.type(float("nan")) * grad_output


def test_anomaly_mode_catches_a_nan_injected_in_a_backward_and_says_where_the_op_was_made():
    x = minigan.tensor([1.0, 2.0], requires_grad=True)
    with minigan.detect_anomaly():
        y = NaNBackward()(x).sum()
        line = sys._getframe().f_lineno - 1
        with pytest.raises(minigan.AnomalyError) as caught:
            y.backward()
    assert re.match(r"NaNBackward backward \(in its Mul op\) produced NaN", str(caught.value))
    assert f"{__file__}:{line}" in str(caught.value)


def test_a_nan_entering_from_data_is_reported_at_the_first_op_with_its_input_blamed():
    data = minigan.tensor([float("nan"), 1.0])
    with minigan.detect_anomaly(), pytest.raises(minigan.AnomalyError, match="an input already held NaN or Inf"):
        data.exp()


def test_without_anomaly_mode_nans_pass_and_nothing_is_recorded():
    x = minigan.tensor([-1.0], requires_grad=True)
    with numpy.errstate(invalid="ignore"):
        y = x.log()
    assert numpy.isnan(y.item()) and not hasattr(y.grad_fn, "created_at")
