"""The shape of the code, as a learner meets it: how far one reads to follow an op, and imports
that point down only.

A learner following `x.tanh()` into minigan steps through at most 10 functions in at most 3 files,
and following `y.sum().backward()` through tanh at most 25 in at most 5 (DeZero: 9 in 3, and 23
in 4). Functions are counted as `sys.setprofile` sees them enter, once each; comprehensions and
generator expressions are not functions a reader steps into (Python 3.12 inlines the former).
"""
import ast
import os
import pathlib
import sys

import minigan

PACKAGE = pathlib.Path(minigan.__file__).parent


def functions_run(action):
    """(file, function) pairs of minigan's code that `action()` runs, in order, each once."""
    seen = {}

    def profile(frame, event, arg):
        code = frame.f_code
        if event == "call" and code.co_filename.startswith(str(PACKAGE)) and not code.co_name.startswith("<"):
            seen.setdefault((os.path.relpath(code.co_filename, PACKAGE), code.co_qualname), None)

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return list(seen)


def test_following_x_tanh_crosses_at_most_10_functions_in_3_files():
    x = minigan.tensor([0.5, -1.0, 2.0], requires_grad=True)
    functions = functions_run(lambda: x.tanh())
    files = {file for file, _ in functions}
    assert len(functions) <= 10 and len(files) <= 3, functions
    assert ("ops/activation.py", "Tanh.forward") in functions


def test_following_y_sum_backward_through_tanh_crosses_at_most_25_functions_in_5_files():
    x = minigan.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = x.tanh().sum()
    functions = functions_run(lambda: y.backward())
    files = {file for file, _ in functions}
    assert len(functions) <= 25 and len(files) <= 5, functions
    assert ("ops/activation.py", "TanhGrad.forward") in functions and x.grad is not None


# Bottom to top: a module may import its own layer and those below, never one above.
LAYERS = [
    {"errors", "atomic"},
    {"host_memory"},
    {"backend", "anomaly", "tracing"},
    {"cuda"},
    {"tensor"},
    {"autograd", "creation", "random"},
    {"ops", "gradcheck", "serialization", "viz"},
    {"nn", "optim", "backends", "accelerator", "data", "testing"},
    {"distributed", "metrics"},
    {"utils"},
    {"__init__"},
]
LAYER_OF = {unit: level for level, units in enumerate(LAYERS) for unit in units}


def _unit(path):
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0] if parts[0] != "__init__" else "__init__"


def _imported_units(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "minigan":
            module = node.module.split(".")
            yield from ([module[1]] if len(module) > 1 else [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            yield from (alias.name.split(".")[1] for alias in node.names if alias.name.startswith("minigan."))


def test_no_module_imports_one_above_it():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        unit = _unit(path)
        assert unit in LAYER_OF, f"{path.relative_to(PACKAGE)}: give its folder a layer in LAYERS"
        upward += [f"{path.relative_to(PACKAGE)} imports {imported}" for imported in _imported_units(path)
                   if imported in LAYER_OF and LAYER_OF[imported] > LAYER_OF[unit]]
    assert not upward, "imports pointing up:\n" + "\n".join(upward)
