"""minigan.detect_anomaly(): stop at the first op whose forward or backward makes a NaN or an Inf.

    with minigan.detect_anomaly():
        loss = model(x).sum()
        loss.backward()      # AnomalyError: "Log backward produced NaN ... created at train.py:42 ..."

Inside the block, every op checks its output and the engine checks every gradient a backward
returns. The error names the op, the line of your code that created it (recorded at its forward,
inside the block), and the shapes of its inputs, and says whether the inputs were already
non-finite, which points one op further up. Off by default: then an op pays one check of
`anomaly.active`. On a GPU each check waits for the GPU (it reads a flag back), so use it to find
a bug, not to train.
"""
import os
import sys

from minigan import backend

active = False  # True inside detect_anomaly()
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class AnomalyError(RuntimeError):
    """An op's forward or backward produced NaN or Inf inside detect_anomaly()."""


class detect_anomaly:
    """Inside the `with` block, the first op that makes a NaN or Inf raises AnomalyError."""

    def __enter__(self):
        global active
        self.outer, active = active, True
        return self

    def __exit__(self, *exc_info):
        global active
        active = self.outer


def creation_site():
    """'file:line in function' of the innermost caller outside minigan: where user code made the op."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    if frame is None:
        return "inside minigan"
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


def _non_finite(array):
    """'NaN', 'Inf' or None for an array (or None) of any device."""
    if array is None or getattr(array, "dtype", None) is None or array.dtype.kind not in "fc":
        return None
    xp = backend.get_array_module(array)
    if bool(xp.isnan(array).any()):
        return "NaN"
    if bool(xp.isinf(array).any()):
        return "Inf"
    return None


def _describe(fn, what, found, inputs, cause_if_inputs_bad):
    shapes = ", ".join(str(tuple(getattr(x, "shape", ()))) for x in inputs)
    inputs_bad = any(_non_finite(x) is not None for x in inputs)
    cause = cause_if_inputs_bad if inputs_bad else "its inputs were finite, so this op made it"
    site = getattr(fn, "created_at", None) or "an unknown line (the op was created outside detect_anomaly)"
    return f"{fn.name} {what} produced {found}: {cause}. The op was created at {site}; input shapes: {shapes}"


def check_forward(fn, arrays, output, running_backward=None):
    """Raise AnomalyError if the forward of `fn` on `arrays` gave a non-finite `output`; when fn is
    one of the ops a backward is written with, `running_backward` is that backward's Function."""
    found = _non_finite(output)
    if found is None:
        return
    if hasattr(running_backward, "backward"):  # fn is one of the ops a backward is written with
        raise AnomalyError(_describe(running_backward, f"backward (in its {fn.name} op)", found, arrays,
                                     "the values it combined already held NaN or Inf"))
    raise AnomalyError(_describe(fn, "forward", found, arrays,
                                 "an input already held NaN or Inf: look at the op that made that input"))


def check_backward(fn, grad_output, gradients):
    """Raise AnomalyError if the backward of `fn` returned a non-finite gradient."""
    for position, gradient in enumerate(gradients):
        found = _non_finite(None if gradient is None else gradient.array)
        if found is not None:
            raise AnomalyError(_describe(
                fn, f"backward (the gradient of its input {position})", found, [grad_output.array],
                "the gradient arriving at it already held NaN or Inf: look at the backward before it"))
