"""torch.backends' switches that GAN scripts set: `minigan.backends.cudnn` and `minigan.backends.cuda`.

minigan has no cuDNN: its convolutions are im2col and one cuBLAS (or numpy) matrix product, with
no algorithm to choose, so `cudnn.benchmark` and `cudnn.deterministic` are accepted and change
nothing (minigan is deterministic on a GPU as on the CPU). `cuda.matmul.allow_tf32` and
`cudnn.allow_tf32` switch TF32 for float32 matrix products, as `minigan.backend.allow_tf32`.
"""
from minigan.backends import cuda, cudnn
