"""torch.nn.utils' place: helpers that act on a model as a whole. `fuse(model)` runs each Linear
layer of a Sequential together with the activation layer after it (fusion.py)."""
from minigan.nn.utils.fusion import fuse

__all__ = ["fuse"]
