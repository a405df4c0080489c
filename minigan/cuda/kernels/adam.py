"""Adam: the whole update of every parameter in one launch, over flat buffers, in place.

torch.optim.Adam's update, element by element, at step t (counting from 1):

    g ← g + weight_decay·θ                     (the L2 penalty joins the gradient)
    m ← lerp(m, g, 1 − β1)                     (torch's lerp: m + w (g − m) for w < 0.5,
                                                else g − (g − m)(1 − w))
    v ← β2·v + ((1 − β2)·g)·g
    v̂ ← max(v̂, v) with amsgrad, else v
    θ ← θ + (−lr / (1 − β1ᵗ))·m / (√v̂ / √(1 − β2ᵗ) + ε)

The step's scalars (−lr / (1 − β1ᵗ), √(1 − β2ᵗ)) are computed once on the host in double, as
torch computes them in Python, and reach the kernel in the parameters' dtype.
"""
import math

from minigan.backend import get_array_module
from minigan.cuda.kernels.core import Kernel, check_same_shape

_ADAM = Kernel("adam_step", r"""
__device__ T nan_max(T a, T b) { return (b > a || b != b) ? b : a; }   // a NaN wins, as torch.maximum

extern "C" __global__ void adam_step(
        T* __restrict__ param, const T* __restrict__ grad, T* __restrict__ exp_avg,
        T* __restrict__ exp_avg_sq, T* __restrict__ max_exp_avg_sq, long long size,
        T negative_step_size, T lerp_weight, T beta2, T one_minus_beta2,
        T bias_correction2_sqrt, T eps, T weight_decay) {
    GRID_STRIDE_LOOP(i, size) {
        const T p = param[i];
        const T g = weight_decay != T(0) ? grad[i] + weight_decay * p : grad[i];
        const T m_old = exp_avg[i];
        const T m = fabs(lerp_weight) < T(0.5) ? m_old + lerp_weight * (g - m_old)
                                               : g - (g - m_old) * (T(1) - lerp_weight);
        const T v = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        T v_hat = v;
        if (max_exp_avg_sq != nullptr) {
            v_hat = nan_max(max_exp_avg_sq[i], v);
            max_exp_avg_sq[i] = v_hat;
        }
        param[i] = p + negative_step_size * m / (sqrt(v_hat) / bias_correction2_sqrt + eps);
    }
}
""")


def _step_scalars(lr, beta1, beta2, step):
    """(−lr / (1 − β1ᵗ), √(1 − β2ᵗ)), in double on the host as torch computes them."""
    if isinstance(step, bool) or not isinstance(step, (int, float)):
        raise TypeError(f"adam_step: step must be a number (the same for every element), got {type(step).__name__}")
    return -(lr / (1 - beta1 ** step)), math.sqrt(1 - beta2 ** step)


def _check_buffers(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq):
    buffers = [("param", param), ("grad", grad), ("exp_avg", exp_avg), ("exp_avg_sq", exp_avg_sq)]
    if max_exp_avg_sq is not None:
        buffers.append(("max_exp_avg_sq", max_exp_avg_sq))
    check_same_shape("adam_step", buffers)


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, lr, beta1, beta2, eps, weight_decay,
              step):
    """One Adam step, in place on param, exp_avg, exp_avg_sq and (with amsgrad) max_exp_avg_sq.

    All arrays have one shape, typically one flat buffer holding every parameter of a model; the
    kernel writes them in place, so on the GPU they must be C-contiguous. `step` counts from 1
    and is the same for every element. `grad` is left unchanged.
    """
    _check_buffers(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq)
    negative_step_size, bias_correction2_sqrt = _step_scalars(lr, beta1, beta2, step)
    for name, buffer in (("param", param), ("exp_avg", exp_avg), ("exp_avg_sq", exp_avg_sq),
                         ("max_exp_avg_sq", max_exp_avg_sq)):
        if buffer is not None and not buffer.flags.c_contiguous:
            raise ValueError(f"adam_step: {name} must be C-contiguous, as the kernel updates it in place")
    grad = get_array_module(grad).ascontiguousarray(grad)
    scalar = param.dtype.type
    _ADAM.launch(param.dtype, (param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, param.size,
                               scalar(negative_step_size), scalar(1 - beta1), scalar(beta2), scalar(1 - beta2),
                               scalar(bias_correction2_sqrt), scalar(eps), scalar(weight_decay)), param.size)
