"""Parameter: a Tensor that a Module registers as learnable (requires_grad=True by default)."""
from minigan import backend
from minigan.tensor import Tensor


class Parameter(Tensor):
    """A learnable tensor: assigning one to a Module attribute registers it in `parameters()`."""

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = backend.as_array([], dtype=backend.default_dtype())
        elif isinstance(data, Tensor):
            data = data.array
        else:
            data = backend.as_array(data)
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
