"""BatchNorm / InstanceNorm in two kernels: the statistics of each group, then the normalisation.

For x of shape (N, C, *):

    norm_statistics(x)                   mean and biased variance per channel (over N and *),
    norm_statistics(x, per_sample=True)  ... per (sample, channel) (over *), for InstanceNorm;
    normalize(x, mean, var, w, b, eps)   y = x·α + β per element, α = w/sqrt(var + eps), β = b − mean·α.

The statistics kernel gives each group one block, which makes two passes over the group's
values: their mean, then the mean of the squared deviations from it, each thread's share summed
with Kahan's compensation and the threads' sums added in a pairwise tree, in the array's own
precision (no double-precision instructions in the float32 kernel). Two passes, as
minigan/ops/norm.py computes them, lose nothing to cancellation the way E[x²] - E[x]² does; one
launch computes both.
"""
from minigan.backend import get_array_module
from minigan.cuda.kernels.core import Kernel

_NORM_STATISTICS = Kernel("norm_statistics", r"""
// A compensated (Kahan) running sum: each thread's sum over thousands of terms loses almost
// nothing in T itself, so a float32 kernel uses no double-precision unit (few on many GPUs).
struct CompensatedSum {
    T sum, carry;  // carry: the low-order part the last addition lost
    __device__ CompensatedSum() : sum(0), carry(0) {}
    __device__ void add(T value) {
        const T corrected = value - carry;
        const T total = sum + corrected;
        carry = (total - sum) - corrected;
        sum = total;
    }
};

// The sum of `value` over the threads of the block (a pairwise tree), returned to every thread.
__device__ T block_sum(T value, T* partial) {
    partial[threadIdx.x] = value;
    __syncthreads();
    for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {   // blockDim.x: a power of two
        if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
        __syncthreads();
    }
    const T total = partial[0];
    __syncthreads();  // every thread has read the total before `partial` is written again
    return total;
}

// x viewed as (outer, groups, inner): group g holds x[a, g, b] for every a and b.
extern "C" __global__ void norm_statistics(
        const T* __restrict__ x, T* __restrict__ mean, T* __restrict__ variance,
        long long outer, long long groups, long long inner) {
    __shared__ T partial[BLOCK];
    const long long count = outer * inner;
    for (long long g = blockIdx.x; g < groups; g += gridDim.x) {
        CompensatedSum sum;
        for (long long k = threadIdx.x; k < count; k += blockDim.x) {
            sum.add(x[((k / inner) * groups + g) * inner + k % inner]);
        }
        const T group_mean = block_sum(sum.sum, partial) / T(count);
        CompensatedSum squares;
        for (long long k = threadIdx.x; k < count; k += blockDim.x) {
            const T deviation = x[((k / inner) * groups + g) * inner + k % inner] - group_mean;
            squares.add(deviation * deviation);
        }
        const T group_variance = block_sum(squares.sum, partial) / T(count);
        if (threadIdx.x == 0) {
            mean[g] = group_mean;
            variance[g] = group_variance;
        }
    }
}
""")

_NORMALIZE = Kernel("normalize", r"""
// Element i belongs to statistics group (i / inner) % stat_groups and channel (i / inner) % channels.
extern "C" __global__ void normalize(
        const T* __restrict__ x, const T* __restrict__ mean, const T* __restrict__ variance,
        const T* __restrict__ weight, const T* __restrict__ bias, T* __restrict__ y, long long size,
        long long inner, long long stat_groups, long long channels, T eps) {
    GRID_STRIDE_LOOP(i, size) {
        const long long group = i / inner;
        const long long s = group % stat_groups, c = group % channels;
        T scale = T(1) / sqrt(variance[s] + eps);      // y = x·scale + shift, as the twin
        if (weight != nullptr) scale = scale * weight[c];
        T shift = -mean[s] * scale;
        if (bias != nullptr) shift = shift + bias[c];
        y[i] = x[i] * scale + shift;
    }
}
""")


def _check_input(op, x):
    if x.ndim < 2:
        raise ValueError(f"{op}: expected an input of shape (N, C, *), got shape {tuple(x.shape)}")


def _spatial_size(x):
    size = 1
    for extent in x.shape[2:]:
        size *= extent
    return size


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------
def norm_statistics(x, per_sample=False):
    """(mean, biased variance) of x (N, C, *) per channel, shaped (1, C, 1, ...) to broadcast
    against x; with per_sample, per sample and channel, shaped (N, C, 1, ...)."""
    _check_input("norm_statistics", x)
    batch, channels = x.shape[:2]
    outer, groups = (1, batch * channels) if per_sample else (batch, channels)
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    stat_shape = (batch if per_sample else 1, channels) + (1,) * (x.ndim - 2)
    mean, variance = xp.empty(stat_shape, dtype=x.dtype), xp.empty(stat_shape, dtype=x.dtype)
    _NORM_STATISTICS.launch(x.dtype, (x, mean, variance, outer, groups, _spatial_size(x)), groups, items_per_block=1)
    return mean, variance


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------
def _check_normalize(x, mean, variance, weight, bias):
    """The number of statistics groups: C (per channel) or N·C (per sample and channel)."""
    _check_input("normalize", x)
    batch, channels = x.shape[:2]
    if mean.size != variance.size or mean.size not in (channels, batch * channels):
        raise ValueError(f"normalize: mean (shape {tuple(mean.shape)}) and variance (shape "
                         f"{tuple(variance.shape)}) must both hold C = {channels} or N·C = {batch * channels} "
                         f"values for an input of shape {tuple(x.shape)}")
    for name, parameter in (("weight", weight), ("bias", bias)):
        if parameter is not None and tuple(parameter.shape) != (channels,):
            raise ValueError(f"normalize: {name} has shape {tuple(parameter.shape)}, but the input of shape "
                             f"{tuple(x.shape)} has {channels} channels: expected shape ({channels},)")
    return mean.size


def normalize(x, mean, variance, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(variance + eps) · weight + bias as a new array, for x (N, C, *).

    mean and variance hold one value per channel (any shape of C values: (C,) running statistics,
    or norm_statistics' (1, C, 1, ...)) or per sample and channel (N·C values); weight and bias
    (each optional) have shape (C,).
    """
    stat_groups = _check_normalize(x, mean, variance, weight, bias)
    xp = get_array_module(x)
    x, mean, variance = xp.ascontiguousarray(x), xp.ascontiguousarray(mean), xp.ascontiguousarray(variance)
    weight = None if weight is None else xp.ascontiguousarray(weight)
    bias = None if bias is None else xp.ascontiguousarray(bias)
    y = xp.empty_like(x)
    _NORMALIZE.launch(x.dtype, (x, mean, variance, weight, bias, y, x.size, _spatial_size(x), stat_groups,
                                x.shape[1], x.dtype.type(eps)), x.size)
    return y
