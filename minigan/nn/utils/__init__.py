"""torch.nn.utils' place: helpers that act on a model as a whole. clip_grad_norm_ and
clip_grad_value_ (clip_grad.py), spectral_norm (spectral_norm.py), parameters_to_vector and
vector_to_parameters (convert_parameters.py), and `fuse(model)`, which runs each Linear layer of a
Sequential together with the activation layer after it (fusion.py)."""
from minigan.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_
from minigan.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from minigan.nn.utils.fusion import fuse
from minigan.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm

__all__ = ["clip_grad_norm_", "clip_grad_value_", "fuse", "parameters_to_vector", "remove_spectral_norm",
           "spectral_norm", "vector_to_parameters"]
