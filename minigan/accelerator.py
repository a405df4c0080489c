"""torch.accelerator: the one accelerator minigan knows, a CUDA GPU through CuPy."""
from minigan import backend


def is_available():
    """True when a GPU is usable as device 'cuda' (see minigan.cuda.is_available)."""
    return backend.cuda_is_available()


def current_accelerator(check_available=False):
    """device('cuda') when a GPU is usable, else None (minigan cannot tell a GPU it cannot use)."""
    return backend.device("cuda") if is_available() else None


def device_count():
    return 1 if is_available() else 0
