"""torch.backends.cudnn's flags. minigan has no cuDNN (see minigan/backends/__init__.py): the flags
are kept so that `cudnn.benchmark = True` runs, and read back as set; only allow_tf32 acts."""
import sys
import types

from minigan.backends.cuda import TF32Switch

enabled = True        # accepted; convolutions are im2col + matrix products either way
benchmark = False     # accepted; there is no algorithm to search for
deterministic = False  # accepted; minigan's kernels are deterministic anyway


def is_available():
    """False: minigan does not use cuDNN."""
    return False


def version():
    return None


class _Module(types.ModuleType, TF32Switch):
    """`cudnn.allow_tf32 = True` switches TF32 for float32 matrix products, as in torch."""


sys.modules[__name__].__class__ = _Module
