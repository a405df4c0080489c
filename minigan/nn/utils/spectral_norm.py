"""spectral_norm (Miyato et al., 2018) as torch.nn.utils.spectral_norm: the layer's weight W is
replaced by W / σ(W), σ the largest singular value, estimated by power iteration.

The layer keeps the raw weight as the parameter `weight_orig` and two buffers, `weight_u` and
`weight_v`, the current estimates of the leading singular vectors (torch's state_dict keys). A
forward pre-hook sets `module.weight` before every forward: while training it first runs
`n_power_iterations` steps, v ← normalize(Wᵀu), u ← normalize(Wv), updating the buffers in place
outside the graph; in eval it reuses them. Then σ = uᵀ W v is computed *in* the graph, with u and v
constants, so gradients through the normalised weight are exact: d(W/σ) includes the -W/σ² dσ term.
"""
from minigan.nn.conv import ConvTranspose2d
from minigan.nn.parameter import Parameter
from minigan.ops.reduce import normalize
from minigan.tensor import no_grad


class SpectralNorm:
    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        if n_power_iterations <= 0:
            raise ValueError(f"spectral_norm: expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def weight_matrix(self, weight):
        """The weight as a matrix with dim `dim` (the outputs) as its rows."""
        if self.dim != 0:
            weight = weight.permute(self.dim, *[d for d in range(weight.ndim) if d != self.dim])
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        matrix = self.weight_matrix(weight)
        if do_power_iteration:
            with no_grad():
                for _ in range(self.n_power_iterations):
                    v.array[...] = normalize(matrix.t() @ u, dim=0, eps=self.eps).array
                    u.array[...] = normalize(matrix @ v, dim=0, eps=self.eps).array
            # the graph keeps copies: the next power iteration writes into the buffers
            u, v = u.clone(), v.clone()
        sigma = u @ (matrix @ v)
        return weight / sigma

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))

    def remove(self, module):
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        for suffix in ("", "_u", "_v", "_orig"):
            delattr(module, self.name + suffix)
        module.register_parameter(self.name, Parameter(weight.detach()))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Normalise `module.<name>` by its spectral norm before every forward; returns the module.
    `dim` (the outputs) is 0, or 1 for ConvTranspose2d, whose weight is (in, out, kh, kw)."""
    if dim is None:
        dim = 1 if isinstance(module, ConvTranspose2d) else 0
    if any(isinstance(hook, SpectralNorm) and hook.name == name for hook in module._forward_pre_hooks.values()):
        raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
    hook = SpectralNorm(name, n_power_iterations, dim, eps)
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter {name!r} to normalise")
    with no_grad():
        height, width = hook.weight_matrix(weight).shape
        u = normalize(weight.new_empty(height).normal_(0, 1), dim=0, eps=eps)
        v = normalize(weight.new_empty(width).normal_(0, 1), dim=0, eps=eps)
    delattr(module, name)
    module.register_parameter(name + "_orig", weight)
    setattr(module, name, weight.data)
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo spectral_norm: `module.<name>` becomes a Parameter holding the normalised weight."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")

