"""Data-parallel training over MPI (mpi4py): one process per core, GPU or machine.

    mpiexec -n 4 python train.py            # each process runs the same script

    import minigan.distributed as dist
    dist.init()                             # rank and world size from MPI; a world of one without mpiexec
    D = dist.DistributedDataParallel(D)     # same parameters everywhere; gradients averaged after backward
    for indices in dist.shard(batch_indices):  # this rank's part of each global batch
        ...

Each rank computes the gradients of its own part of the batch; after each `backward()` the
wrapped model's gradients are averaged over the ranks in one allreduce of one flat buffer, so
every rank takes the same optimizer step and the parameters stay identical. N ranks on batch B
each train as one process on batch N·B (BatchNorm aside: each rank normalises with its own
batch's statistics, as torch's DDP does, unless the model is converted to SyncBatchNorm, whose
statistics are those of the global batch).

MPI comes from the optional extra, `pip install -e ".[mpi]"` (mpi4py, and the mpich wheel that
brings `mpiexec`); a cluster's own MPI works too. Gradients of CuPy tensors travel through host
memory.
"""
import os
import socket
import sys
import time

import numpy

from minigan import backend
from minigan.autograd import queue_callback
from minigan.nn.module import Module
from minigan.nn.normalization import BatchNorm1d, BatchNorm2d, _BatchNorm
from minigan.ops.math import rsqrt
from minigan.ops.norm import _affine, _update_running_stats
from minigan.tensor import Function, is_grad_enabled

INSTALL_MPI = 'pip install -e ".[mpi]"'
_comm = None  # MPI.COMM_WORLD once init() has run


class DistributedUnavailableError(RuntimeError):
    """Distributed training was asked for, but mpi4py (the MPI extra) is not installed."""


def init():
    """Join the MPI world; returns (rank, world size). Run without mpiexec, the world is this one
    process. Raises DistributedUnavailableError, naming the extra, when mpi4py is missing."""
    global _comm
    if _comm is None:
        try:
            from mpi4py import MPI
        except ImportError as error:
            raise DistributedUnavailableError(
                f"distributed training needs mpi4py, which is not installed ({error}); install minigan's "
                f"MPI extra (mpi4py and the mpich wheel, which brings mpiexec): {INSTALL_MPI}") from error
        _comm = MPI.COMM_WORLD
        if world_size() > 1:
            _stop_every_rank_on_an_error()
            _announce_ranks()
    return rank(), world_size()


def _stop_every_rank_on_an_error():
    """An uncaught exception on one rank would leave the others waiting in their next collective
    for ever: print it, say which rank failed, and abort the whole MPI job."""
    previous = sys.excepthook

    def abort_every_rank(kind, value, traceback):
        previous(kind, value, traceback)
        sys.stderr.write(f"minigan.distributed: rank {rank()} of {world_size()} failed ({kind.__name__}: {value}); "
                         "stopping every rank\n")
        sys.stderr.flush()
        # mpiexec forwards each rank's stderr through a pipe; abort at once and it may kill the
        # forwarder before the line above has been read, so the user never learns which rank failed.
        time.sleep(1.0)
        _comm.Abort(1)

    sys.excepthook = abort_every_rank


def _announce_ranks():
    """Rank 0 prints which process is which rank: MPI names a process that dies by its PID."""
    processes = _comm.gather(f"rank {rank()}: pid {os.getpid()} on {socket.gethostname()}", root=0)
    if rank() == 0:
        print(f"minigan.distributed: {world_size()} ranks; " + "; ".join(processes), flush=True)


def _world():
    if _comm is None:
        raise RuntimeError("minigan.distributed: call minigan.distributed.init() first")
    return _comm


def is_initialized():
    return _comm is not None


def rank():
    """This process's number, 0 .. world_size() - 1 (0 when not initialised)."""
    return 0 if _comm is None else _comm.Get_rank()


def world_size():
    return 1 if _comm is None else _comm.Get_size()


def is_main():
    """True on rank 0, the rank that prints, writes samples and checkpoints."""
    return rank() == 0


def local_rank():
    """This process's number among those on the same machine: the GPU it should use."""
    for variable in ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"):
        if variable in os.environ:
            return int(os.environ[variable])
    return _world().Split_type(_mpi().COMM_TYPE_SHARED).Get_rank()


def local_device(visible_count):
    """The GPU this rank uses among the `visible_count` it sees: its local rank modulo that count.
    A launcher that gives each rank one GPU of its own (Slurm's --gpus-per-task=1) makes each rank
    see a single device, number 0, whatever its local rank; one that shows them all gives rank r GPU r."""
    return local_rank() % visible_count


# --------------------------------------------------------------------------------------------
# Moving arrays between the ranks
# --------------------------------------------------------------------------------------------
def _gathered(arrays):
    """The arrays concatenated into one contiguous host buffer (a copy)."""
    return numpy.concatenate([backend.to_numpy(array).ravel() for array in arrays])


def _scatter_back(flat, arrays):
    """Copy consecutive pieces of `flat` into `arrays`, each on its own device."""
    offset = 0
    for array in arrays:
        piece = flat[offset:offset + array.size].reshape(array.shape)
        array[...] = backend.as_array(piece, device=backend.device_of(array))
        offset += array.size


def allreduce_grads(module, buffer=None):
    """Average the gradients of `module`'s parameters over the ranks: one allreduce of one flat
    host buffer, whatever the number of parameters. Parameters without a .grad are left out (they
    must be the same on every rank: the ranks run the same step), and so are frozen ones. `buffer`, a host array from an
    earlier call, is reused when it still fits (fresh memory costs page faults); the buffer used
    is returned."""
    # a frozen parameter (requires_grad False) keeps the .grad of an earlier backward: not this one's
    grads = [param.grad.array for param in module.parameters() if param.grad is not None and param.requires_grad]
    if world_size() == 1 or not grads:
        return buffer
    size = sum(grad.size for grad in grads)
    if buffer is None or buffer.size != size or buffer.dtype != grads[0].dtype:
        buffer = numpy.empty(size, grads[0].dtype)
    numpy.concatenate([backend.to_numpy(grad).ravel() for grad in grads], out=buffer)
    _world().Allreduce(_mpi().IN_PLACE, buffer, op=_mpi().SUM)
    offset = 0
    for grad in grads:
        summed = buffer[offset:offset + grad.size].reshape(grad.shape)
        offset += grad.size
        if backend.device_of(grad) == "cpu":
            numpy.divide(summed, world_size(), out=grad)  # the mean, written in the same pass
        else:
            grad[...] = backend.as_array(summed / world_size(), device="cuda")
    return buffer


def broadcast_parameters(module, root=0):
    """Copy `root`'s parameters and buffers (BatchNorm's running statistics) to every rank, in
    one broadcast."""
    if world_size() == 1:
        return
    arrays = [tensor.array for tensor in list(module.parameters()) + list(module.buffers())]
    flat = _gathered(arrays)
    _world().Bcast(flat, root=root)
    _scatter_back(flat, arrays)


def broadcast_object(value, root=0):
    """A small Python value (a seed, a path) from `root` to every rank."""
    return value if world_size() == 1 else _world().bcast(value, root=root)


def shard(indices):
    """This rank's part of a global batch of example `indices`: rank r takes every
    world_size()-th block, so the parts are disjoint and together cover the batch."""
    size = len(indices) // world_size()
    return indices[rank() * size:(rank() + 1) * size]


def gather_object(value, root=0):
    """[value of rank 0, value of rank 1, ...] on `root` (None elsewhere); [value] in a world of one."""
    return [value] if world_size() == 1 else _world().gather(value, root=root)


def any_rank(flag):
    """True on every rank if `flag` is true on any: a decision all ranks must take together."""
    return bool(flag) if world_size() == 1 else bool(_world().allreduce(bool(flag), op=_mpi().LOR))


def barrier():
    if world_size() > 1:
        _world().Barrier()


def _mpi():
    from mpi4py import MPI
    return MPI


# --------------------------------------------------------------------------------------------
# The wrapper
# --------------------------------------------------------------------------------------------
class DistributedDataParallel(Module):
    """torch.nn.parallel.DistributedDataParallel: `module` with rank 0's parameters on every
    rank, whose gradients are averaged over the ranks after every backward that reaches its
    output. Its state_dict keys start with "module.", as torch's."""

    def __init__(self, module, root=0):
        super().__init__()
        init()
        self.module = module
        self._buffer = None  # the host buffer of the gradient average, kept from step to step
        broadcast_parameters(module, root)

    def forward(self, *args, **kwargs):
        output = self.module(*args, **kwargs)
        if is_grad_enabled() and getattr(output, "requires_grad", False) and world_size() > 1:
            # only a backward that reaches this output leaves gradients to average
            output.register_hook(self._average_after_backward)
        return output

    def _average_after_backward(self, grad):
        queue_callback(self._average_gradients)

    def _average_gradients(self):
        self._buffer = allreduce_grads(self.module, self._buffer)


# --------------------------------------------------------------------------------------------
# BatchNorm over the global batch
# --------------------------------------------------------------------------------------------
class AllReduceSum(Function):
    """The sum over the ranks of an array, on every rank. Its backward is itself: each rank's
    input reaches every rank's loss through the sum, so its gradient is the sum of theirs."""

    def forward(self, x):
        summed = numpy.array(backend.to_numpy(x))  # a host copy for MPI to write into
        _world().Allreduce(_mpi().IN_PLACE, summed, op=_mpi().SUM)
        return backend.as_array(summed, device=backend.device_of(x))

    def backward(self, grad_output):
        return AllReduceSum()(grad_output)


class SyncBatchNorm(_BatchNorm):
    """torch.nn.SyncBatchNorm: BatchNorm whose training statistics are those of the global batch,
    every rank's part together (two allreduces of one number per channel). Made of
    differentiable ops and AllReduceSum, so its gradients are exact, the cross-rank terms
    included. Every rank must pass a batch of the same size."""

    input_layouts = (("N", "C"), ("N", "C", "L"), ("N", "C", "H", "W"))

    def forward(self, input):
        if not self.training or world_size() == 1:
            return super().forward(input)
        self._check_input(input)
        axes = (0,) + tuple(range(2, input.ndim))
        count = world_size() * int(numpy.prod([input.shape[axis] for axis in axes]))
        channel_shape = (1, input.shape[1]) + (1,) * (input.ndim - 2)
        mean = AllReduceSum()(input.sum(axes)).reshape(channel_shape) / count
        centered = input - mean
        variance = AllReduceSum()((centered * centered).sum(axes)).reshape(channel_shape) / count
        if self.track_running_stats:
            self.num_batches_tracked.array += 1
            momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked.item())
            _update_running_stats("SyncBatchNorm", self.running_mean, self.running_var, mean.array, variance.array,
                                  count, momentum)
        return _affine(centered * rsqrt(variance + self.eps), self.weight, self.bias, channel_shape)


def convert_sync_batchnorm(module):
    """`module` with every BatchNorm1d/2d replaced by a SyncBatchNorm holding the same parameters
    and running statistics (torch.nn.SyncBatchNorm.convert_sync_batchnorm)."""
    if isinstance(module, (BatchNorm1d, BatchNorm2d)):
        synced = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                               module.track_running_stats)
        for name in ("weight", "bias"):
            synced.register_parameter(name, getattr(module, name))
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            synced.register_buffer(name, getattr(module, name))
        synced.train(module.training)
        return synced
    for name, child in list(module.named_children()):
        setattr(module, name, convert_sync_batchnorm(child))
    return module
