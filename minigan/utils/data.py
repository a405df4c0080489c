"""torch.utils.data's Dataset, TensorDataset and DataLoader: mini-batches for a training loop.

    dataset = TensorDataset(images, labels)             # tensors with one row per example
    loader = DataLoader(dataset, batch_size=64, shuffle=True, drop_last=True)
    for images, labels in loader:                       # one shuffled batch at a time
        ...

A batch is read with one indexing per tensor (`images[indices]`), not one item at a time, where
the dataset can do that: datasets that define `__getitems__(indices)` (TensorDataset does), as
torch's DataLoader also asks. Other datasets are read item by item and collated as torch
collates: tensors and numbers stacked, tuples, lists and dicts collated field by field.

Shuffling draws from minigan's generator (seeded by `minigan.manual_seed`), or from `generator`.
`num_workers` is accepted and loads in this process: minigan's batches are array slices, which
worker processes would only copy.
"""
import numbers

import numpy

from minigan import random
from minigan.creation import tensor
from minigan.ops.shape import stack
from minigan.tensor import Tensor


class Dataset:
    """A data set: `dataset[i]` is one example; subclasses define __getitem__ and __len__."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} has no __getitem__: define it in the subclass")


class TensorDataset(Dataset):
    """Examples from tensors that share their first dimension: `dataset[i]` is (t[i] for t in tensors)."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        sizes = {t.shape[0] for t in tensors}
        if len(sizes) > 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions {[t.shape[0] for t in tensors]}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __getitems__(self, indices):
        """A whole batch: one indexing per tensor."""
        indices = numpy.asarray(indices)
        return tuple(t[indices] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


def default_collate(items):
    """A list of examples as one batch, as torch collates: tensors, arrays and numbers stacked
    into a tensor with a new first dimension; tuples, lists and dicts field by field."""
    first = items[0]
    if isinstance(first, Tensor):
        return stack(items)
    if isinstance(first, numpy.ndarray):
        return tensor(numpy.stack(items))
    if isinstance(first, (numbers.Number, numpy.number)):
        return tensor(items)
    if isinstance(first, dict):
        return {key: default_collate([item[key] for item in items]) for key in first}
    if isinstance(first, (tuple, list)):
        if any(len(item) != len(first) for item in items):
            raise RuntimeError("default_collate: each example in a batch must have the same number of fields")
        return type(first)(default_collate(list(field)) for field in zip(*items)) if isinstance(first, tuple) \
            else [default_collate(list(field)) for field in zip(*items)]
    return items


class DataLoader:
    """Mini-batches of a dataset, in order or shuffled anew at each pass (torch.utils.data.DataLoader)."""

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 generator=None, prefetch_factor=None, persistent_workers=False, pin_memory_device=""):
        if sampler is not None or batch_sampler is not None:
            raise NotImplementedError("DataLoader: sampler and batch_sampler are not supported; use shuffle=True "
                                      "or shuffle=False")
        if batch_size is None or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, int(batch_size), shuffle, drop_last
        self.collate_fn = collate_fn
        self.generator = generator
        self.num_workers = num_workers

    def __len__(self):
        count = len(self.dataset)
        return count // self.batch_size if self.drop_last else -(-count // self.batch_size)

    def _order(self):
        count = len(self.dataset)
        if not self.shuffle:
            return numpy.arange(count)
        if self.generator is not None:
            return self.generator.permutation(count)
        return random.permutation(count)

    def __iter__(self):
        order = self._order()
        for start in range(0, len(order), self.batch_size):
            indices = order[start:start + self.batch_size]
            if self.drop_last and len(indices) < self.batch_size:
                return
            yield self._batch(indices)

    def _batch(self, indices):
        if hasattr(self.dataset, "__getitems__") and self.collate_fn is None:
            return self.dataset.__getitems__(indices)
        items = [self.dataset[int(i)] for i in indices]
        return (self.collate_fn or default_collate)(items)
