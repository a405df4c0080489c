"""Neural-network building blocks as torch.nn: Module, Parameter, the layers, losses, init, functional.

Seed code ports by changing its imports: `import minigan.nn as nn`, `import minigan.nn.functional as F`.
"""
from minigan.nn import functional, init, parallel, utils
from minigan.nn.activation import (ELU, GELU, Hardtanh, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax,
                                   Softplus, Tanh)
from minigan.nn.container import ModuleDict, ModuleList, Sequential
from minigan.nn.conv import Conv2d, ConvTranspose2d
from minigan.nn.dropout import Dropout, Dropout2d
from minigan.nn.embedding import Embedding
from minigan.nn.flatten import Flatten, Unflatten
from minigan.nn.linear import Linear, LinearActivation
from minigan.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from minigan.nn.module import Module
from minigan.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm
from minigan.nn.padding import ConstantPad2d, ReflectionPad2d, ReplicationPad2d, ZeroPad2d
from minigan.nn.parallel import DataParallel
from minigan.nn.parameter import Parameter
from minigan.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from minigan.nn.upsampling import Upsample
