"""clip_grad_norm_ and clip_grad_value_, as torch.nn.utils: they change the .grad of parameters in
place, after backward and before the optimizer's step."""
import math

from minigan.creation import tensor
from minigan.ops.shape import stack
from minigan.tensor import Tensor, no_grad


def _with_gradients(parameters):
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients together so that their joint `norm_type` norm (that of the vector of all
    their elements) is at most max_norm; returns that norm before clipping, as torch does. The
    scale max_norm / (norm + 1e-6), capped at 1, multiplies every gradient (by 1 when unclipped)."""
    with no_grad():
        parameters = _with_gradients(parameters)
        if not parameters:
            return tensor(0.0)
        norm_type = float(norm_type)
        norms = [p.grad.abs().amax() if norm_type == math.inf else p.grad.norm(norm_type) for p in parameters]
        device = parameters[0].grad.device
        stacked = stack([n.to(device) for n in norms])
        total_norm = stacked.amax() if norm_type == math.inf else stacked.norm(norm_type)
        if error_if_nonfinite and not bool(total_norm.isfinite().item()):
            raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                               "so it cannot be clipped. To disable this error and scale the gradients by the "
                               "non-finite norm anyway, set `error_if_nonfinite=False`")
        scale = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)
        for p in parameters:
            p.grad.mul_(scale.to(p.grad.device, p.grad.dtype))
        return total_norm


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into [-clip_value, clip_value]."""
    with no_grad():
        for p in _with_gradients(parameters):
            p.grad.clamp_(-clip_value, clip_value)
