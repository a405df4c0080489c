"""Devices: names, moving tensors and modules, seeds, checkpoints, the errors, and one code path.

The errors are one table: each row provokes one way of asking for the wrong device (mixing
devices in an op, 'cuda' without CuPy, CuPy without a usable GPU — what CI has —, unknown
names) and names the error and the words it must say. The last test reads the sources of the
ops, layers, optimizers and kernel twins and fails on any numpy call on array data, the calls
that would break on a GPU.
"""
import ast
import glob
import importlib
import dataclasses
import os
import pathlib
import re
import sys
import types
import zlib
from typing import Callable

import numpy
import pytest

import minigan
from minigan import backend
from minigan.autograd import Function
from minigan.backend import DeviceMismatchError, DeviceUnavailableError
from minigan.errors import HostDeviceError
from minigan.testing import standin

INSTALL = r'pip install -e "\.\[cuda\]"'


def example(name):
    return importlib.import_module(name)


def cupy_without_a_gpu():
    """Whether this machine is what CI is: CuPy installed, no usable GPU or driver."""
    try:
        import cupy  # noqa: F401
    except ImportError:
        return False
    return not minigan.cuda.is_available()


needs_cupy_without_gpu = pytest.mark.skipif(not cupy_without_a_gpu(),
                                            reason="needs CuPy installed on a machine without a usable GPU")


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, canonical", [(None, "cpu"), ("cpu", "cpu"), ("numpy", "cpu"), ("cuda", "cuda"),
                                             ("cupy", "cuda"), ("cuda:0", "cuda")])
def test_device_names_and_their_aliases(name, canonical):
    assert backend.check_device(name) == canonical


@pytest.mark.parametrize("name", ["cpu", "numpy", "cuda", "cupy", "cuda:0"])
def test_every_device_name_works_wherever_a_device_is_taken(name, standin_cuda):
    canonical = backend.check_device(name)
    made = [minigan.zeros(2, device=name), minigan.tensor([1.0], device=name), minigan.randn(2, device=name),
            minigan.arange(3, device=name), minigan.ones(1).to(name), minigan.nn.Linear(2, 1).to(name).weight]
    assert [t.device for t in made] == [canonical] * len(made)


# --------------------------------------------------------------------------------------------
# The errors, one table
# --------------------------------------------------------------------------------------------
def _mix(op):
    """`op(cpu tensor, cuda tensor)` under the stand-in."""
    def call(monkeypatch):
        with standin.use_for_cuda():
            op(minigan.ones(2, 3), minigan.ones(2, 3, device="cuda"))
    return call


def _without_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # `import cupy` now raises ImportError
    monkeypatch.setattr(backend, "_cupy_module", None)
    minigan.zeros(2, device="cuda")


class _HostConstantInForward(Function):
    def forward(self, x):
        return x * numpy.ones(x.shape)  # the bug: a host array made inside an op


class _HostConstantInBackward(Function):
    def forward(self, x):
        return x * 2

    def backward(self, grad_output):
        positive = self.inputs[0].array > numpy.zeros(grad_output.shape)  # the bug: a mask against a host array
        return grad_output * positive.astype(grad_output.dtype)


def _on_standin(call):
    def run(monkeypatch):
        with standin.use_for_cuda():
            call(minigan.ones(3, device="cuda", requires_grad=True))
    return run


def _driver_only(monkeypatch):
    """A GPU and its driver, but none of CUDA's libraries: what `pip install cupy-cuda13x` alone gives."""
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 1, CUDARuntimeError=RuntimeError)
    cupy = types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime, get_cuda_path=lambda: None))  # no cublas,
    # no nvrtc, no toolkit folder
    backend._check_gpu(cupy)


@dataclasses.dataclass
class DeviceError:
    name: str
    call: Callable  # call(monkeypatch) provokes it
    error: type
    message: str    # a regular expression the message must match
    marks: tuple = ()


DEVICE_ERRORS = [
    DeviceError("add mixes devices", _mix(lambda a, b: a + b), DeviceMismatchError,
                "Add: inputs are on different devices: cpu and cuda"),
    DeviceError("matmul mixes devices", _mix(lambda a, b: b @ a.T), DeviceMismatchError,
                "MatMul: inputs are on different devices: cuda and cpu"),
    DeviceError("cat mixes devices", _mix(lambda a, b: minigan.cat([a, b])), DeviceMismatchError,
                "Cat: inputs are on different devices: cpu and cuda"),
    DeviceError("a loss mixes devices", _mix(minigan.nn.functional.mse_loss), DeviceMismatchError,
                "Sub: inputs are on different devices: cpu and cuda"),
    DeviceError("where's condition is on another device", _mix(lambda a, b: minigan.where(a > 0, b, 0.0)),
                DeviceMismatchError, "where: inputs are on different devices: cuda and cpu"),
    DeviceError("a comparison mixes devices", _mix(lambda a, b: a < b), DeviceMismatchError,
                "comparison lt: inputs are on different devices: cpu and cuda"),
    DeviceError("a layer on cuda gets a host input",
                _mix(lambda a, b: minigan.nn.Linear(3, 1).cuda()(a)), DeviceMismatchError,
                "LinearMap: inputs are on different devices: cpu and cuda"),
    DeviceError("a host array meets a cuda tensor", _mix(lambda a, b: b * a.numpy()), DeviceMismatchError,
                "Mul: inputs are on different devices: cuda and cpu"),
    DeviceError("backward gets a gradient on another device",
                _mix(lambda a, b: b.requires_grad_().backward(a)), DeviceMismatchError,
                "backward: gradient 0 is on cpu but output 0 is on cuda"),
    DeviceError("an optimizer gets parameters on two devices",
                _mix(lambda a, b: minigan.optim.Adam([a.requires_grad_(), b.requires_grad_()])), DeviceMismatchError,
                "parameters of one group must be on one device, got cpu and cuda"),
    DeviceError("an op makes a host array inside its forward", _on_standin(_HostConstantInForward()),
                HostDeviceError, "_HostConstantInForward: stand-in device: a host numpy array"),
    DeviceError("an op makes a host array inside its backward",
                _on_standin(lambda x: _HostConstantInBackward()(x).sum().backward()), HostDeviceError,
                "in the backward of _HostConstantInBackward: stand-in device: a host numpy array"),
    DeviceError("cuda without CuPy", _without_cupy, DeviceUnavailableError,
                f"needs CuPy, which is not installed.*{INSTALL}"),
    DeviceError("CuPy without a usable GPU or driver", lambda monkeypatch: minigan.zeros(2, device="cuda"),
                DeviceUnavailableError, f"CuPy is installed but cannot use a GPU: the NVIDIA driver.*{INSTALL}",
                marks=(needs_cupy_without_gpu,)),
    DeviceError("Module.to('cuda') without a usable GPU", lambda monkeypatch: minigan.nn.Linear(2, 1).cuda(),
                DeviceUnavailableError, f"cannot use a GPU.*{INSTALL}", marks=(needs_cupy_without_gpu,)),
    DeviceError("a GPU with only its driver: no cuBLAS, NVRTC or headers", _driver_only, DeviceUnavailableError,
                r"CuPy finds a GPU but not cuBLAS .*; nor NVRTC .*; nor the CUDA headers .*cupy-cuda13x\[ctk\]"
                rf".*{INSTALL}"),
    DeviceError("an unknown device name", lambda monkeypatch: minigan.zeros(2, device="tpu"), ValueError,
                "unknown device 'tpu': minigan knows 'cpu' .* and 'cuda'"),
    DeviceError("an unknown name in Tensor.to", lambda monkeypatch: minigan.ones(2).to("gpu"), ValueError,
                "unknown device 'gpu'"),
    DeviceError("a second GPU", lambda monkeypatch: minigan.zeros(2, device="cuda:1"), ValueError,
                "minigan runs on one GPU"),
]


@pytest.mark.parametrize("case", [pytest.param(case, id=case.name, marks=case.marks) for case in DEVICE_ERRORS])
def test_device_errors_say_what_is_wrong(case, monkeypatch):
    with pytest.raises(case.error, match=case.message):
        case.call(monkeypatch)


def test_device_unavailable_is_a_runtime_error_and_is_available_never_raises(monkeypatch):
    assert issubclass(DeviceUnavailableError, RuntimeError) and issubclass(DeviceMismatchError, RuntimeError)
    monkeypatch.setitem(sys.modules, "cupy", None)
    monkeypatch.setattr(backend, "_cupy_module", None)
    assert minigan.cuda.is_available() is False


@needs_cupy_without_gpu
def test_is_available_is_false_where_cupy_finds_no_usable_gpu():
    assert minigan.cuda.is_available() is False


@pytest.mark.skipif(minigan.cuda.is_available(), reason="this machine has a GPU: --backend cupy runs")
def test_backend_cupy_without_a_gpu_stops_with_the_clear_error_before_loading_data(tmp_path):
    with pytest.raises(DeviceUnavailableError, match=f"device 'cuda'.*{INSTALL}"):
        example("mnist_mlp").main(["--backend", "cupy", "--data-dir", str(tmp_path / "no data here"),
                                   "--out", str(tmp_path), "--max-steps", "1"])


# --------------------------------------------------------------------------------------------
# TF32: off by default, as torch; a switch
# --------------------------------------------------------------------------------------------
def test_float32_matmuls_use_full_precision_unless_tf32_is_allowed(monkeypatch):
    """CuPy keeps the cuBLAS compute type per dtype: minigan sets float32's when CuPy loads and
    when the switch is flipped (a stand-in for CuPy records what it is told)."""
    told = []
    linalg = types.SimpleNamespace(COMPUTE_TYPE_DEFAULT="full float32", COMPUTE_TYPE_TF32="tf32",
                                   set_compute_type=lambda dtype, kind: told.append((numpy.dtype(dtype), kind)))
    fake_cupy = types.SimpleNamespace(_core=types.SimpleNamespace(_routines_linalg=linalg))
    monkeypatch.setattr(backend, "_tf32", False)
    monkeypatch.setattr(backend, "_cupy_module", fake_cupy)
    backend._apply_tf32()
    backend.allow_tf32(True)
    backend.allow_tf32(False)
    float32 = numpy.dtype("float32")
    assert told == [(float32, "full float32"), (float32, "tf32"), (float32, "full float32")]


def test_tf32_falls_back_to_cupys_environment_switch_where_the_compute_type_setter_is_gone(monkeypatch):
    monkeypatch.setattr(backend, "_tf32", False)
    monkeypatch.setattr(backend, "_cupy_module", types.SimpleNamespace(_core=types.SimpleNamespace()))
    monkeypatch.setenv("CUPY_TF32", "0")
    backend.allow_tf32(True)
    assert os.environ["CUPY_TF32"] == "1"
    backend.allow_tf32(False)
    assert os.environ["CUPY_TF32"] == "0"


# --------------------------------------------------------------------------------------------
# Moving tensors and modules
# --------------------------------------------------------------------------------------------
def test_tensor_to_moves_data_and_gradients_flow_back_to_the_host(standin_cuda):
    x = minigan.tensor([[1.0, -2.0], [3.0, 0.5]], dtype=minigan.float64, requires_grad=True)
    on_device = x.to("cuda")
    assert on_device.device == "cuda" and x.device == "cpu" and on_device.dtype == numpy.float64
    assert x.cpu() is x and on_device.cuda() is on_device  # nothing to move: the same tensor
    y = (on_device * on_device).sum()
    y.backward()
    assert x.grad.device == "cpu"
    numpy.testing.assert_array_equal(x.grad.numpy(), 2 * x.detach().numpy())
    both = x.to("cuda", minigan.float32)
    assert both.device == "cuda" and both.dtype == numpy.float32


def test_numpy_copies_to_the_host_and_repr_names_the_device(standin_cuda):
    x = minigan.arange(3, device="cuda")
    host = x.numpy()
    assert type(host) is numpy.ndarray and host.tolist() == [0, 1, 2] and x.tolist() == [0, 1, 2]
    assert repr(x) == "tensor([0, 1, 2], device='cuda:0')"  # as torch
    assert x[2].item() == 2


@pytest.mark.parametrize("make", [
    lambda x: minigan.zeros_like(x), lambda x: minigan.ones_like(x), lambda x: minigan.full_like(x, 2.0),
    lambda x: minigan.tensor(x), lambda x: minigan.as_tensor(x, dtype=minigan.float64),
], ids=["zeros_like", "ones_like", "full_like", "tensor", "as_tensor"])
def test_like_functions_and_copies_stay_on_the_input_device(make, standin_cuda):
    assert make(minigan.ones(2, device="cuda")).device == "cuda"
    assert make(minigan.ones(2)).device == "cpu"


def test_module_to_moves_parameters_and_buffers_in_place_and_an_optimizer_follows(standin_cuda):
    model = minigan.nn.Sequential(minigan.nn.Linear(3, 4), minigan.nn.BatchNorm1d(4))
    weight = model[0].weight
    optimizer = minigan.optim.Adam(model.parameters(), lr=0.1)  # built on the host
    model(minigan.randn(5, 3)).sum().backward()
    optimizer.step()
    model.cuda()
    assert model[0].weight is weight and weight.device == "cuda" and weight.grad.device == "cuda"
    assert {t.device for t in model.state_dict().values()} == {"cuda"}
    model.zero_grad()
    model(minigan.randn(5, 3, device="cuda")).sum().backward()
    optimizer.step()  # its flat buffers and moments followed the parameters to the device
    state = optimizer.state_dict()["state"][0]
    assert weight.device == state["exp_avg"].device == state["exp_avg_sq"].device == "cuda"


def test_save_copies_device_tensors_to_the_host_and_load_state_dict_copies_them_back(standin_cuda, tmp_path):
    model = minigan.nn.Linear(3, 2).cuda()
    minigan.save({"model": model.state_dict(), "raw": model.weight.array}, tmp_path / "model.npz")
    loaded = minigan.load(tmp_path / "model.npz")
    assert {type(t.array) for t in loaded["model"].values()} == {numpy.ndarray}
    assert type(loaded["raw"]) is numpy.ndarray
    other = minigan.nn.Linear(3, 2).cuda()
    other.load_state_dict(loaded["model"])
    assert other.weight.device == "cuda"
    numpy.testing.assert_array_equal(other.weight.detach().numpy(), model.weight.detach().numpy())


# --------------------------------------------------------------------------------------------
# Random numbers: each device its own seeded generator
# --------------------------------------------------------------------------------------------
def _draws(device):
    return [minigan.rand(3, device=device), minigan.randn(2, 2, device=device, dtype=minigan.float64),
            minigan.randint(0, 10, (4,), device=device), minigan.randperm(5, device=device),
            minigan.nn.functional.dropout(minigan.ones(8, device=device), 0.5),
            minigan.nn.init.normal_(minigan.zeros(3, device=device))]


def test_the_same_seed_on_the_same_device_repeats_exactly_and_draws_stay_on_the_device(standin_cuda):
    minigan.manual_seed(11)
    first = _draws("cuda")
    minigan.manual_seed(11)
    again = _draws("cuda")
    assert all(t.device == "cuda" for t in first)
    for a, b in zip(first, again):
        numpy.testing.assert_array_equal(a.numpy(), b.numpy())
    minigan.manual_seed(12)
    assert not numpy.array_equal(_draws("cuda")[0].numpy(), first[0].numpy())


def test_every_device_draws_from_one_stream(standin_cuda):
    minigan.manual_seed(3)
    on_host = [minigan.rand(6), minigan.randn(5, dtype=minigan.float64), minigan.randint(0, 9, (4,))]
    minigan.manual_seed(3)
    on_device = [minigan.rand(6, device="cuda"), minigan.randn(5, dtype=minigan.float64, device="cuda"),
                 minigan.randint(0, 9, (4,), device="cuda")]
    for host, device in zip(on_host, on_device):
        assert device.device == "cuda" and device.dtype == host.dtype
        numpy.testing.assert_array_equal(device.numpy(), host.numpy())
    minigan.manual_seed(3)
    first = minigan.rand(6, device="cuda")
    numpy.testing.assert_array_equal(first.numpy(), on_host[0].numpy())
    assert not numpy.array_equal(minigan.rand(6).numpy(), first.numpy())  # the host's draw continues the stream
    numpy.testing.assert_array_equal(minigan.get_rng_state().numpy(), minigan.cuda.get_rng_state().numpy())


# --------------------------------------------------------------------------------------------
# One code path: no numpy on array data in ops, layers, optimizers or kernel twins
# --------------------------------------------------------------------------------------------
ROOT = pathlib.Path(minigan.__file__).parent
CHECKED = ["ops", "nn", "optim", "cuda/kernels"]
# numpy names that are no calls on data: dtypes and dtype objects, shared by CuPy
DTYPE_NAMES = {"float16", "float32", "float64", "int32", "int64", "uint8", "bool_", "dtype", "floating",
               "integer", "generic", "promote_types"}
# (file, function, numpy name): why it is host-only bookkeeping, never array data
HOST_ONLY = {
    **{("ops/activation.py", "select", name): "the host's bit trick for where (select is CuPy's where on a GPU)"
       for name in ("asarray", "bitwise_and", "broadcast_shapes", "empty", "empty_like", "invert", "negative",
                    "shape")},
    ("ops/activation.py", "select.bits", "asarray"): "a host array's bits, in select's bit trick",
    ("ops/loss.py", "_bce_arrays", "errstate"): "numpy's warning switch, on host arrays only (CuPy has none)",
    ("optim/optimizer.py", "Optimizer.state_dict", "flatnonzero"): "which parameters have state: a host flag array",
    ("optim/optimizer.py", "FlatGroup.__init__", "array"): "parameter sizes, one host number per parameter",
    ("optim/optimizer.py", "FlatGroup.__init__", "cumsum"): "parameter offsets into the flat buffer",
    ("optim/optimizer.py", "FlatGroup.__init__", "zeros"): "per-parameter 'has state' flags",
    ("optim/optimizer.py", "FlatGroup.gather_gradients", "array"): "which parameters have a gradient (host flags)",
    ("optim/optimizer.py", "FlatGroup.element_mask", "repeat"): "a mask from host flags, copied to the device once",
    ("optim/optimizer.py", "FlatGroup.per_element", "repeat"): "per-parameter host numbers spread over elements",
    ("optim/optimizer.py", "FlatGroup.parameter_state", "zeros"): "per-parameter step counts, as torch keeps them",
    ("optim/optimizer.py", "FlatGroup.parameter_state_dict", "asarray"): "torch's 'step' is a host 0-d tensor",
}


def _numpy_uses(path):
    """(function, numpy name, line) for every `numpy.<name>` / `np.<name>` in the file's code."""
    tree = ast.parse(path.read_text())
    aliases = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names if alias.name == "numpy"}
    uses = [(None, f"from numpy import {alias.name}", node.lineno) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "numpy"
            for alias in node.names if alias.name not in DTYPE_NAMES]

    def visit(node, scope):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            scope = f"{scope}.{node.name}" if scope else node.name
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and node.attr not in DTYPE_NAMES):
            uses.append((scope, node.attr, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child, scope)
    visit(tree, "")
    return uses


def test_ops_layers_optimizers_and_kernel_twins_reach_numpy_only_through_the_backend():
    found, used_exceptions = [], set()
    for folder in CHECKED:
        for path in sorted((ROOT / folder).glob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            for scope, name, line in _numpy_uses(path):
                if (relative, scope, name) in HOST_ONLY:
                    used_exceptions.add((relative, scope, name))
                else:
                    found.append(f"minigan/{relative}:{line} in {scope or 'the module'}: numpy.{name}")
    assert not found, ("numpy called directly on array data (use xp = get_array_module(array); or, for "
                       "host-only bookkeeping, add it to HOST_ONLY with the reason):\n" + "\n".join(found))
    assert used_exceptions == set(HOST_ONLY), f"stale HOST_ONLY entries: {set(HOST_ONLY) - used_exceptions}"


def test_the_source_check_sees_a_numpy_call(tmp_path):
    source = tmp_path / "op.py"
    source.write_text("import numpy as np\n\nclass Op:\n    def forward(self, x):\n"
                      "        return np.exp(x) + np.float32(1)\n")
    assert _numpy_uses(source) == [("Op.forward", "exp", 5)]


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_a_class_index_out_of_range_is_refused_on_cuda_too(loss, standin_cuda):
    """CuPy would wrap it around silently (the stand-in, numpy inside, would raise some other error)."""
    scores = minigan.randn(2, 10, device="cuda")
    with pytest.raises(IndexError, match=rf"{loss}: class indices must lie in \[0, 10\).*from 1 to 12"):
        getattr(minigan.nn.functional, loss)(scores, minigan.tensor([1, 12], device="cuda"))
    with pytest.raises(IndexError, match=rf"{loss}: class indices must lie in \[0, 10\).*from -3 to 4"):
        getattr(minigan.nn.functional, loss)(scores, minigan.tensor([4, -3], device="cuda"))


def test_the_standin_refuses_what_the_installed_cupy_lacks_and_keeps_what_it_has():
    cupy = pytest.importorskip("cupy", reason="needs CuPy (the test extra) to know its API")

    def cupy_has(path):
        found = cupy
        for part in path.split("."):
            if not hasattr(found, part):
                return False
            found = getattr(found, part)
        return True

    array = standin.xp.zeros(3)
    reads = {"errstate": lambda: standin.xp.errstate, "ndarray.ctypes": lambda: array.ctypes,
             "ndarray.resize": lambda: array.resize, "exp": lambda: standin.xp.exp, "add.at": lambda: standin.xp.add.at,
             "lib.stride_tricks.as_strided": lambda: standin.xp.lib.stride_tricks.as_strided,
             "ndarray.astype": lambda: array.astype}
    for path, read in reads.items():
        if cupy_has(path):
            assert read() is not None, path
        else:
            with pytest.raises(AttributeError, match=rf"cupy\.{re.escape(path)}: CuPy .* has no such thing"):
                read()
    assert not cupy_has("errstate") and not cupy_has("ndarray.ctypes")  # what the audit found CuPy 14 lacks
    with pytest.raises(TypeError, match="not a list"):
        array[0:2] = [1.0, 2.0]
    count = standin.xp.asarray(3)
    if cupy_has("ndarray.__index__"):
        assert list(range(count)) == [0, 1, 2]
    else:
        with pytest.raises(TypeError, match="no __index__"):
            range(count)
        assert int(count) == 3  # the explicit conversion works, as in CuPy


def _strings_of_cupys_indexing_module(cupy):
    """The text in CuPy's compiled _routines_indexing module: Cython keeps a module's string
    constants in the shared library, plain or in zlib-compressed blocks."""
    library, = glob.glob(os.path.join(os.path.dirname(cupy.__file__), "_core", "_routines_indexing*.so"))
    data = pathlib.Path(library).read_bytes()
    texts = [data]
    for start in (match.start() for match in re.finditer(rb"\x78[\x01\x5e\x9c\xda]", data)):
        try:
            texts.append(zlib.decompressobj().decompress(data[start:start + 1_000_000]))
        except zlib.error:
            continue
    return b"".join(texts).decode("latin-1")


def test_the_standin_takes_ufunc_at_only_for_the_dtypes_the_installed_cupy_takes():
    cupy = pytest.importorskip("cupy", reason="needs CuPy (the test extra) to know its API")
    messages = dict(re.findall(r"cupy\.(\w+)\.at only supports ([\w, ]+?),? as data type",
                               _strings_of_cupys_indexing_module(cupy)))
    assert set(messages) == set(standin.UFUNC_AT_DTYPES), messages
    for ufunc, dtypes in messages.items():
        assert tuple(dtypes.split(", ")) == standin.UFUNC_AT_DTYPES[ufunc], ufunc
    index = standin.xp.asarray(numpy.array([0, 2, 0]))
    target = standin.xp.zeros(3, dtype=numpy.float32)
    standin.xp.add.at(target, index, standin.xp.ones(3, dtype=numpy.float32))
    assert target.get().tolist() == [2.0, 0.0, 1.0]
    for dtype in ("int8", "uint8", "int16", "bool", "complex64"):
        with pytest.raises(TypeError, match=rf"cupy\.add\.at only supports int32, .* got {dtype}"):
            standin.xp.add.at(standin.xp.zeros(3, dtype=dtype), index, standin.xp.ones(3, dtype=dtype))
    with pytest.raises(TypeError, match="cupy.subtract.at only supports int32, uint32 as data type, got float32"):
        standin.xp.subtract.at(target, index, standin.xp.ones(3, dtype=numpy.float32))


def test_an_out_of_range_index_tensor_on_cuda_wraps_around_as_cupy_documents(standin_cuda):
    """CuPy's docs ("Differences between CuPy and NumPy: out-of-bounds indices"): an integer index
    array is read modulo the axis's length; numpy (and minigan on the CPU) raise. docs/PORTING.md."""
    x = minigan.arange(5.0, device="cuda")
    assert x[minigan.tensor([7, -1, 2], device="cuda")].tolist() == [2.0, 4.0, 2.0]
    with pytest.raises(IndexError, match="does not fit a tensor of shape"):
        minigan.arange(5.0)[minigan.tensor([7])]
