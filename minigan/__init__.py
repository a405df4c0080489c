"""minigan: a small reverse-mode autodiff engine on numpy, with PyTorch's API, for building GANs."""
from minigan import accelerator, backends, cuda, nn, ops, optim, utils, viz  # ops attaches the operators and methods to Tensor
from minigan.anomaly import AnomalyError, detect_anomaly
from minigan.autograd import grad
from minigan.backend import (DeviceMismatchError, DeviceUnavailableError, bool_, device, finfo, float16, float32,
                             float64, get_default_dtype, iinfo, int8, int16, int32, int64, set_default_dtype, uint8)
from minigan.backend import bool_ as bool  # torch's dtype names, as module attributes (minigan.long, ...)
from minigan.backend import float16 as half
from minigan.backend import float32 as float
from minigan.backend import float64 as double
from minigan.backend import int16 as short
from minigan.backend import int32 as int
from minigan.backend import int64 as long
from minigan.creation import (BoolTensor, ByteTensor, DoubleTensor, FloatTensor, IntTensor, LongTensor, arange,
                              as_tensor, bernoulli, eye, from_numpy, full, full_like, linspace, multinomial, normal,
                              ones, ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor, zeros,
                              zeros_like)
from minigan.errors import DTypeError, ShapeError, ValueRangeError
from minigan.gradcheck import GradcheckError, gradcheck, gradgradcheck
from minigan.ops import (abs, add, all, amax, amin, any, argmax, argmin, bmm, cat, chunk, clamp, clone, cumsum, detach,
                         div, dot, eq, exp, flatten, flip, gather, ge, gt, index_select, is_floating_point, isfinite,
                         isnan, le, lerp, log, log_softmax, logsumexp, lt, masked_fill, matmul, max, maximum, mean,
                         meshgrid, min, minimum, mm, mul, narrow, ne, neg, outer, permute, pow, relu, repeat_interleave,
                         reshape, roll, rsqrt, scatter, sigmoid, sign, softmax, sort, split, sqrt, square, squeeze,
                         stack, std, sub, sum, t, tanh, tile, topk, transpose, unsqueeze, var, where)
from minigan.ops.math import clamp as clip
from minigan.ops.math import allclose, einsum, equal, erf, expm1, promote_types, result_type
from minigan.ops.reduce import norm  # after `ops`: minigan.ops.norm is the normalisation module
from minigan.random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from minigan.serialization import CheckpointError, load, save
from minigan.tensor import (Function, Tensor, enable_grad, is_grad_enabled, is_tensor, no_grad, numel,
                            set_grad_enabled)
from minigan.tracing import trace

__version__ = "0.1.0"
