"""Binary cross-entropy, on logits and on probabilities: the loss and its gradient in one pass.

Per element, with target t, an optional incoming gradient g (None: 1) and a divisor n (1; the
element count when the loss is a mean, whose gradient torch divides by it last):

    bce_with_logits(x, t)   loss = (1 - t) x - (1 + (pw - 1) t) log σ(x)     (pw = pos_weight, or 1)
                            grad = g ((pw t + 1 - t) σ(x) - pw t) / n       (= g (σ(x) - t) / n for pw = 1)
    bce(p, t)               loss = (t - 1) max(log(1 - p), -100) - t max(log p, -100)
                            grad = g (p - t) / max((1 - p) p, 1e-12) / n

These are torch's formulas, clamps included (binary_cross_entropy and its backward;
binary_cross_entropy_with_logits and its backward): the GPU versions of minigan/ops/loss.py's
bce_arrays and bce_with_logits_arrays.
"""
from minigan.backend import get_array_module
from minigan.cuda.kernels.core import Kernel, check_broadcasts_to, check_same_shape, periodic

# Operands that broadcast (pos_weight, grad_output) are read as operand[i % period]: see core.periodic.
_BCE_WITH_LOGITS = Kernel("bce_with_logits", r"""
extern "C" __global__ void bce_with_logits(
        const T* __restrict__ logits, const T* __restrict__ target,
        const T* __restrict__ pos_weight, long long pos_weight_period,
        const T* __restrict__ grad_output, long long grad_output_period,
        T* __restrict__ loss, T* __restrict__ grad, long long size, T grad_divisor) {
    GRID_STRIDE_LOOP(i, size) {
        const T x = logits[i], t = target[i];
        const T e = exp(-fabs(x));                                 // never overflows
        const T log_sigmoid = (x < T(0) ? x : T(0)) - log1p(e);    // log σ(x) = min(x, 0) - log(1 + e^-|x|)
        const T sigmoid = (x >= T(0) ? T(1) : e) / (T(1) + e);
        const T g = grad_output == nullptr ? T(1) : grad_output[i % grad_output_period];
        if (pos_weight == nullptr) {
            loss[i] = (T(1) - t) * x - log_sigmoid;
            grad[i] = g * (sigmoid - t) / grad_divisor;
        } else {
            const T w = pos_weight[i % pos_weight_period];
            const T weighted_target = w * t;
            loss[i] = (T(1) - t) * x - ((w - T(1)) * t + T(1)) * log_sigmoid;
            grad[i] = g * ((weighted_target + T(1) - t) * sigmoid - weighted_target) / grad_divisor;
        }
    }
}
""")

_BCE = Kernel("bce", r"""
__device__ T at_least(T value, T floor) { return value < floor ? floor : value; }  // std::max(value, floor)

extern "C" __global__ void bce(
        const T* __restrict__ probabilities, const T* __restrict__ target,
        const T* __restrict__ grad_output, long long grad_output_period,
        T* __restrict__ loss, T* __restrict__ grad, long long size, T grad_divisor) {
    GRID_STRIDE_LOOP(i, size) {
        const T p = probabilities[i], t = target[i];
        const T g = grad_output == nullptr ? T(1) : grad_output[i % grad_output_period];
        // each log clamped at -100, so p = 0 or 1 (log 0 = -inf) gives a finite loss
        loss[i] = (t - T(1)) * at_least(log1p(-p), T(-100)) - t * at_least(log(p), T(-100));
        grad[i] = g * (p - t) / at_least((T(1) - p) * p, T(1e-12f)) / grad_divisor;
    }
}
""")


def _check_operands(op, input_name, input, target, grad_output, pos_weight=None):
    check_same_shape(op, [(input_name, input), ("target", target)])
    check_broadcasts_to(op, "grad_output", grad_output, input.shape)
    check_broadcasts_to(op, "pos_weight", pos_weight, input.shape)


def _launch_bce(kernel, input, target, grad_output, grad_divisor, *operands):
    """Launch `kernel` on (input, target, *operands, grad_output and its period, loss, grad, size,
    grad_divisor)."""
    xp = get_array_module(input)
    input, target = xp.ascontiguousarray(input), xp.ascontiguousarray(target)
    grad_output, grad_output_period = (None, 1) if grad_output is None else periodic(grad_output, input.shape)
    loss, grad = xp.empty_like(input), xp.empty_like(input)
    kernel.launch(input.dtype, (input, target, *operands, grad_output, grad_output_period, loss, grad, input.size,
                                input.dtype.type(grad_divisor)), input.size)
    return loss, grad


# --------------------------------------------------------------------------------------------
# On logits
# --------------------------------------------------------------------------------------------
def bce_with_logits(logits, target, pos_weight=None, grad_output=None, grad_divisor=1):
    """(loss, grad) per element of binary cross-entropy on logits: grad = grad_output · d loss /
    d logits / grad_divisor.

    `target` has the logits' shape; `pos_weight` (the weight of the positive class) and
    `grad_output` (None: 1) broadcast to it.
    """
    _check_operands("bce_with_logits", "logits", logits, target, grad_output, pos_weight)
    pos_weight, pos_weight_period = (None, 1) if pos_weight is None else periodic(pos_weight, logits.shape)
    return _launch_bce(_BCE_WITH_LOGITS, logits, target, grad_output, grad_divisor, pos_weight, pos_weight_period)


# --------------------------------------------------------------------------------------------
# On probabilities
# --------------------------------------------------------------------------------------------
def bce(probabilities, target, grad_output=None, grad_divisor=1):
    """(loss, grad) per element of binary cross-entropy on probabilities in [0, 1] (not checked
    here): grad = grad_output · d loss / d probabilities / grad_divisor, with torch's clamps. `target` has the
    probabilities' shape; `grad_output` (None: 1) broadcasts to it."""
    _check_operands("bce", "probabilities", probabilities, target, grad_output)
    return _launch_bce(_BCE, probabilities, target, grad_output, grad_divisor)
