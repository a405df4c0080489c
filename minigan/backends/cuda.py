"""torch.backends.cuda's switch for TF32: `minigan.backends.cuda.matmul.allow_tf32 = True`."""
from minigan import backend


class TF32Switch:
    """`allow_tf32`, read and set: minigan.backend's switch for TF32 in float32 matrix products."""

    allow_tf32 = property(lambda self: backend.tf32_allowed(), lambda self, allowed: backend.allow_tf32(allowed))


matmul = TF32Switch()


def is_built():
    """Whether CuPy can be imported (torch: whether it was built with CUDA)."""
    try:
        import cupy  # noqa: F401
    except ImportError:
        return False
    return True
