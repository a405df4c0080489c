"""torch.nn.parallel's single-process data parallelism, for the one GPU minigan drives.

torch's DataParallel splits each batch over the GPUs of one machine. minigan runs on one GPU per
process; its way past one device is one process per GPU (or core) with gradients averaged over
MPI: `minigan.distributed.DistributedDataParallel`. So `DataParallel(model)` and
`data_parallel(model, input)` run the model as it is when they are given at most one device, and
refuse, naming that alternative, when given more.
"""
from minigan.nn.module import Module

_ONE_PROCESS_PER_GPU = ("minigan drives one GPU per process: run one process per GPU under mpiexec with "
                        "minigan.distributed.DistributedDataParallel (see docs/SCALING.md)")


def _check_devices(op, device_ids):
    if device_ids is not None and len(list(device_ids)) > 1:
        raise NotImplementedError(f"{op}: device_ids {list(device_ids)} name more than one GPU; {_ONE_PROCESS_PER_GPU}")


class DataParallel(Module):
    """torch.nn.DataParallel on at most one device: `module` runs on the whole batch. Its
    state_dict keys start with 'module.', as torch's do."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        _check_devices("DataParallel", device_ids)
        self.module = module

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """torch.nn.parallel.data_parallel on at most one device: module(inputs)."""
    _check_devices("data_parallel", device_ids)
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    return module(*inputs, **(module_kwargs or {}))


def __getattr__(name):
    """DistributedDataParallel lives in minigan.distributed (MPI sits above nn)."""
    if name == "DistributedDataParallel":
        raise AttributeError("nn.parallel.DistributedDataParallel: use minigan.distributed.DistributedDataParallel "
                             "(data parallelism over MPI; see docs/SCALING.md)")
    raise AttributeError(f"module 'minigan.nn.parallel' has no attribute {name!r}")
