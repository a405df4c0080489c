"""Embedding: a table of learnable vectors looked up by integer index."""
from minigan.creation import zeros
from minigan.nn import init
from minigan.nn.module import Module
from minigan.nn.parameter import Parameter
from minigan.ops.layer import embedding


class Embedding(Module):
    """Embedding(num_embeddings, embedding_dim, padding_idx=None): weight (num_embeddings,
    embedding_dim) ~ N(0, 1), as torch; the row `padding_idx` starts at zero and is never trained."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, device=None, dtype=None):
        super().__init__()
        if padding_idx is not None and not -num_embeddings <= padding_idx < num_embeddings:
            raise ValueError(f"Embedding: padding_idx {padding_idx} must be within the {num_embeddings} embeddings")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = None if padding_idx is None else padding_idx % num_embeddings
        self.weight = Parameter(zeros(num_embeddings, embedding_dim, dtype=dtype, device=device))
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    def forward(self, input):
        return embedding(input, self.weight, self.padding_idx)

    def extra_repr(self):
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"
