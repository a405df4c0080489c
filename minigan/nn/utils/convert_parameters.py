"""parameters_to_vector and vector_to_parameters, as torch.nn.utils: all parameters as one flat
vector (e.g. for a second-order method or a weight average), and back."""
from minigan.ops.shape import cat
from minigan.tensor import Tensor


def parameters_to_vector(parameters):
    """One 1-D tensor of every parameter's elements, in order (in the graph, like torch's)."""
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Each parameter's values ← its slice of `vec` (its `.data` replaced, outside the graph)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected Tensor, but got: {type(vec).__name__}")
    start = 0
    for param in parameters:
        count = param.numel()
        param.data = vec[start:start + count].reshape(param.shape).data
        start += count
