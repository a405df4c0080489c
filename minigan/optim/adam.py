"""Adam (Kingma & Ba, 2015) with torch.optim.Adam's exact update rule, on flat buffers."""
import numbers

from minigan.backend import get_array_module, is_device_array
from minigan.cuda import kernels
from minigan.optim.optimizer import Optimizer, lerp_arrays_


class Adam(Optimizer):
    """torch.optim.Adam: per parameter θ with gradient g at step t,

        g ← g + weight_decay·θ                         (L2 penalty added to the gradient)
        m ← m + (1 − β1)·(g − m)                       (first moment, torch's lerp)
        v ← β2·v + (1 − β2)·g²                         (second moment)
        v̂ ← max(v̂, v) with amsgrad, else v̂ = v
        θ ← θ − lr / (1 − β1ᵗ) · m / (√v̂ / √(1 − β2ᵗ) + ε)

    ε is added after the bias-corrected square root, as torch does. t counts the steps on which
    the parameter had a gradient.
    """

    parameter_state_names = ("step",)
    element_state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad}
        super().__init__(params, defaults)

    def _check_options(self, group):
        super()._check_options(group)
        if not group["eps"] >= 0:
            raise ValueError(f"Adam: invalid eps {group['eps']!r}: it must be >= 0")
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        for index, beta in enumerate(betas):
            if not 0 <= beta < 1:
                raise ValueError(f"Adam: invalid beta parameter at index {index}: {beta!r} is not in [0, 1)")

    def _element_state_names(self, group):
        return self.element_state_names if group["amsgrad"] else self.element_state_names[:2]

    def _advance(self, group, flat, which):
        steps = flat.parameter_state("step")
        steps[which] += 1
        flat.has_state[which] = True
        return {"step": steps[which]}

    def _update(self, group, param, grad, state, scratch, step):
        arrays = (param, grad, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"))
        beta1, beta2 = group["betas"]
        options = dict(lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                       step=step)
        if is_device_array(param) and isinstance(step, numbers.Number):
            # on a GPU the ~14 passes of adam_update would be 14 launches; the kernel does them in one
            kernels.run(kernels.adam_step, adam_update, *arrays, **options)
        else:
            adam_update(*arrays, scratch=scratch, **options)


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, lr, beta1, beta2, eps, weight_decay, step,
                scratch=None):
    """torch.optim.Adam's update of equally long flat arrays, in place (param, the moments; grad is
    overwritten). `step` is a number, or an array of one per element; `scratch` a work array as
    long as param (None: one is made). On a GPU the adam_step kernel does the same in one launch."""
    xp = get_array_module(param)
    scratch = xp.empty_like(param) if scratch is None else scratch
    if weight_decay != 0:
        grad += xp.multiply(param, weight_decay, out=scratch)
    lerp_arrays_(exp_avg, grad, 1 - beta1, scratch)  # m ← lerp(m, g, 1 − β1)
    # v ← β2·v + (1 − β2)·g·g, in torch's order: ((1 − β2)·g)·g
    exp_avg_sq *= beta2
    exp_avg_sq += xp.multiply(xp.multiply(grad, 1 - beta2, out=scratch), grad, out=scratch)
    second_moment = exp_avg_sq
    if max_exp_avg_sq is not None:
        second_moment = xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
    # denominator = √v̂ / √(1 − β2ᵗ) + ε
    denominator = xp.sqrt(second_moment, out=scratch)
    denominator /= (1 - beta2 ** step) ** 0.5
    denominator += eps
    # θ ← θ + (−lr / (1 − β1ᵗ))·m / denominator; the gradient's memory is free by now
    param += xp.divide(xp.multiply(exp_avg, -lr / (1 - beta1 ** step), out=grad), denominator, out=grad)


class AdamW(Adam):
    """torch.optim.AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay. Each step
    first shrinks θ ← θ·(1 − lr·weight_decay), then takes Adam's step with no L2 term."""

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)

    def _update(self, group, param, grad, state, scratch, step):
        param *= 1 - group["lr"] * group["weight_decay"]
        super()._update({**group, "weight_decay": 0}, param, grad, state, scratch, step)
