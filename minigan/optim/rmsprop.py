"""RMSprop (Hinton, 2012), the original WGAN's optimizer, with torch.optim.RMSprop's update rule."""
from minigan.backend import get_array_module
from minigan.optim.optimizer import Optimizer, lerp_arrays_


class RMSprop(Optimizer):
    """torch.optim.RMSprop: per parameter θ with gradient g,

        g ← g + weight_decay·θ
        v ← α·v + (1 − α)·g²                            (square_avg)
        with centered: ḡ ← lerp(ḡ, g, 1 − α), and v − ḡ² in v's place below (grad_avg)
        d ← √v + ε
        b ← momentum·b + g / d, θ ← θ − lr·b            (with momentum; momentum_buffer)
        θ ← θ − lr·g / d                                 (without)
    """

    parameter_state_names = ("step",)
    element_state_names = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        if maximize:
            raise NotImplementedError("RMSprop: maximize=True is not supported; minimize the negated loss")
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay, "momentum": momentum,
                    "centered": centered}
        super().__init__(params, defaults)

    def _check_options(self, group):
        super()._check_options(group)
        for option in ("alpha", "eps", "momentum"):
            if not group[option] >= 0:
                raise ValueError(f"RMSprop: invalid {option} {group[option]!r}: it must be >= 0")

    def _element_state_names(self, group):
        return ("square_avg",) + (("momentum_buffer",) if group["momentum"] > 0 else ()) + (
            ("grad_avg",) if group["centered"] else ())

    def _advance(self, group, flat, which):
        steps = flat.parameter_state("step")
        steps[which] += 1
        flat.has_state[which] = True
        return {}

    def _update(self, group, param, grad, state, scratch):
        xp = get_array_module(param)
        lr, alpha, eps, momentum = group["lr"], group["alpha"], group["eps"], group["momentum"]
        if group["weight_decay"] != 0:
            grad += xp.multiply(param, group["weight_decay"], out=scratch)
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += xp.multiply(xp.multiply(grad, grad, out=scratch), 1 - alpha, out=scratch)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            lerp_arrays_(grad_avg, grad, 1 - alpha, scratch)  # ḡ ← lerp(ḡ, g, 1 − α)
            denominator = xp.subtract(square_avg, xp.multiply(grad_avg, grad_avg, out=scratch), out=scratch)
            xp.sqrt(denominator, out=denominator)
        else:
            denominator = xp.sqrt(square_avg, out=scratch)
        denominator += eps
        step = xp.divide(grad, denominator, out=grad)
        if momentum > 0:
            buffer = state["momentum_buffer"]
            buffer *= momentum
            buffer += step
            step = buffer
        param += xp.multiply(step, -lr, out=scratch)
