"""minigan on NVIDIA GPUs: whether device 'cuda' can be used, and the custom CUDA kernels (kernels/)."""


def is_available():
    """True when CuPy imports and a GPU is usable, so tensors can live on 'cuda'. Never raises."""
    from minigan import backend  # not at the top: minigan.backend imports this package
    return backend.cuda_is_available()


def __getattr__(name):
    """minigan.cuda.FloatTensor, LongTensor, ...: torch's legacy types of the 'cuda' device."""
    from minigan import creation
    if ("cuda", name) in creation.LEGACY_TYPES:
        return creation.LEGACY_TYPES["cuda", name]
    raise AttributeError(f"module 'minigan.cuda' has no attribute {name!r}")
