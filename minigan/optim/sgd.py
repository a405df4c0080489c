"""SGD with momentum, dampening, Nesterov and weight decay: torch.optim.SGD's update rule."""
from minigan.backend import get_array_module
from minigan.optim.optimizer import Optimizer


class SGD(Optimizer):
    """torch.optim.SGD: per parameter θ with gradient g,

        g ← g + weight_decay·θ
        b ← g on the parameter's first step, else b ← momentum·b + (1 − dampening)·g
        g ← g + momentum·b with nesterov, else g ← b          (only when momentum ≠ 0)
        θ ← θ − lr·g
    """

    element_state_names = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov}
        super().__init__(params, defaults)

    def _check_options(self, group):
        super()._check_options(group)
        if not group["momentum"] >= 0:
            raise ValueError(f"SGD: invalid momentum {group['momentum']!r}: it must be >= 0")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening, got "
                             f"momentum={group['momentum']!r}, dampening={group['dampening']!r}")

    def _element_state_names(self, group):
        return self.element_state_names if group["momentum"] != 0 else ()

    def _advance(self, group, flat, which):
        has_momentum_buffer = flat.has_state[which].copy()  # as it was before this step
        if group["momentum"] != 0:
            flat.has_state[which] = True
        return {"has_momentum_buffer": has_momentum_buffer}

    def _update(self, group, param, grad, state, scratch, has_momentum_buffer):
        xp = get_array_module(param)
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        if group["weight_decay"] != 0:
            grad += xp.multiply(param, group["weight_decay"], out=scratch)
        if momentum != 0:
            buffer = state["momentum_buffer"]
            # b ← momentum·b + (1 − dampening)·g, which is b ← 0·b + 1·g = g on a first step
            buffer *= momentum * has_momentum_buffer
            buffer += xp.multiply(grad, 1 - dampening * has_momentum_buffer, out=scratch)
            if group["nesterov"]:
                grad += xp.multiply(buffer, momentum, out=scratch)
            else:
                grad = buffer
        param += xp.multiply(grad, -lr, out=scratch)
