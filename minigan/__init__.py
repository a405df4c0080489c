"""minigan: a small reverse-mode autodiff engine on numpy, with PyTorch's API, for building GANs."""
from minigan import accelerator, backends, cuda, nn, ops, optim, utils, viz  # ops attaches the operators and methods to Tensor
from minigan.anomaly import AnomalyError, detect_anomaly
from minigan.autograd import grad
from minigan.backend import (DeviceMismatchError, DeviceUnavailableError, bool_, device, float16, float32, float64,
                             get_default_dtype, int32, int64, set_default_dtype, uint8)
from minigan.creation import (BoolTensor, ByteTensor, DoubleTensor, FloatTensor, IntTensor, LongTensor, arange,
                              as_tensor, from_numpy, full, full_like, ones, ones_like, rand, randint, randn, randperm,
                              tensor, zeros, zeros_like)
from minigan.errors import DTypeError, ShapeError, ValueRangeError
from minigan.gradcheck import GradcheckError, gradcheck, gradgradcheck
from minigan.ops import (abs, amax, argmax, cat, clamp, exp, flatten, log, matmul, maximum, mean,
                         minimum, permute, reshape, rsqrt, sigmoid, sign, sqrt, squeeze, stack,
                         sum, tanh, transpose, unsqueeze, var, where)
from minigan.ops.math import promote_types, result_type
from minigan.ops.reduce import norm  # after `ops`: minigan.ops.norm is the normalisation module
from minigan.random import get_rng_state, manual_seed, set_rng_state
from minigan.serialization import CheckpointError, load, save
from minigan.tensor import Function, Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from minigan.tracing import trace

__version__ = "0.1.0"
