"""Dropout and Dropout2d: zero random elements (or whole channels) while training (inverted
dropout), pass inputs through in eval."""
from minigan.nn.module import Module
from minigan.ops.layer import dropout, dropout2d


class Dropout(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: probability p must be between 0 and 1, got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zero whole channels of (N, C, H, W) inputs, each with probability p."""

    def forward(self, input):
        return dropout2d(input, self.p, self.training)
