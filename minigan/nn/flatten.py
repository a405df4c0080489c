"""Flatten and Unflatten: reshape between images (N, C, H, W) and feature vectors (N, C·H·W)."""
from minigan.errors import ShapeError
from minigan.nn.module import Module


class Flatten(Module):
    """Merge dims start_dim..end_dim into one: (N, 1, 28, 28) -> (N, 784) by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim `dim` into `unflattened_size` (one entry may be -1): (N, 784) -> (N, 1, 28, 28)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):
        if not -input.ndim <= self.dim < input.ndim:
            raise IndexError(f"{self!r}: dim {self.dim} is out of range for an input of shape {tuple(input.shape)}")
        dim = self.dim % input.ndim
        try:
            return input.reshape(input.shape[:dim] + self.unflattened_size + input.shape[dim + 1:])
        except ValueError:
            raise ShapeError(f"{self!r}: dim {self.dim} of the input of shape {tuple(input.shape)} has size "
                             f"{input.shape[dim]}, which cannot be split into {self.unflattened_size}") from None

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
