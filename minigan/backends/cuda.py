"""torch.backends.cuda's switch for TF32: `minigan.backends.cuda.matmul.allow_tf32 = True`."""
from minigan import backend


class _MatmulSettings:
    @property
    def allow_tf32(self):
        return backend.tf32_allowed()

    @allow_tf32.setter
    def allow_tf32(self, allowed):
        backend.allow_tf32(allowed)


matmul = _MatmulSettings()


def is_built():
    """Whether CuPy can be imported (torch: whether it was built with CUDA)."""
    try:
        import cupy  # noqa: F401
    except ImportError:
        return False
    return True
