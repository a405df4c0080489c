"""minigan on NVIDIA GPUs: whether device 'cuda' can be used, and the custom CUDA kernels (kernels/).
(torch's legacy types of the device, minigan.cuda.FloatTensor..., are attached by minigan.creation.)"""


def is_available():
    """True when CuPy imports and a GPU is usable, so tensors can live on 'cuda'. Never raises."""
    from minigan import backend  # not at the top: minigan.backend imports this package
    return backend.cuda_is_available()

