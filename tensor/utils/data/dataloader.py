"""DataLoader: batches of examples from a dataset, in a sampler's order, collated into tensors.

One pass over a DataLoader is:
    for indices in batch_sampler:                 # e.g. [17, 3, 42, ...], batch_size of them
        batch = collate_fn([dataset[i] for i in indices])
        yield batch
and default_collate turns a list of examples into one example of batches: tensors are stacked
along a new first dimension, numbers become a 1-D tensor, and tuples, lists and dicts are
collated field by field.

Loading happens in the calling process. `num_workers` (PyTorch's worker processes) and
`pin_memory` (page-locked host memory for faster copies to a GPU) are accepted, so PyTorch
programs run unchanged, and ignored: the batches are the same, only made one after another.
"""

import collections.abc
import numbers

import numpy as np

import tensor
from tensor.tensor import Tensor

from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler


def default_collate(batch):
    """Collate a list of examples into a batch, by the type of the first example (as PyTorch):

    Tensor -> stacked (N, ...)    NumPy array -> stacked tensor     float -> float64 tensor (N,)
    int/bool -> int64/bool (N,)   str/bytes -> the list as is       dict -> {key: collate(values)}
    tuple/list -> a list of each field collated (a namedtuple stays one), fields of equal count.
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return tensor.stack(list(batch), 0)
    if isinstance(elem, np.ndarray):
        return tensor.stack([tensor.from_numpy(np.ascontiguousarray(a)) for a in batch], 0)
    if isinstance(elem, np.generic):
        return tensor.tensor(np.array(batch))
    if isinstance(elem, float):
        return tensor.tensor(batch, dtype=tensor.float64)
    if isinstance(elem, bool):
        return tensor.tensor(batch, dtype=tensor.bool)
    if isinstance(elem, numbers.Integral):
        return tensor.tensor(batch, dtype=tensor.int64)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([example[key] for example in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple keeps its type
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(example) != len(elem) for example in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(field)) for field in zip(*batch)]
    raise TypeError(
        f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {type(elem)}"
    )


def default_convert(data):
    """The collate_fn without batching (batch_size=None): NumPy arrays become tensors, containers
    are converted element by element (tuples into lists), everything else is returned as it is."""
    if isinstance(data, np.ndarray):
        return tensor.from_numpy(data)
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):  # a plain tuple becomes a list, as PyTorch
        return [default_convert(d) for d in data]
    return data


class DataLoader:
    """Iterate over `dataset` in batches, as torch.utils.data.DataLoader.

    batch_size: examples per batch (None: one example at a time, not collated into a batch);
    shuffle: a new random order each pass (a RandomSampler), else the dataset's order;
    sampler: the order of the indices, instead of shuffle; batch_sampler: lists of indices
    directly, instead of batch_size/shuffle/sampler/drop_last; drop_last: leave out the last
    batch when it is shorter; collate_fn: list of examples -> batch (default_collate);
    generator: the Generator that shuffles. num_workers, pin_memory, timeout, worker_init_fn,
    prefetch_factor and persistent_workers are accepted and change nothing (loading is in-process).
    """

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=None,
        sampler=None,
        batch_sampler=None,
        num_workers=0,
        collate_fn=None,
        pin_memory=False,
        drop_last=False,
        timeout=0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor=None,
        persistent_workers=False,
        pin_memory_device="",
        in_order=True,
    ):
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        self.dataset, self.num_workers, self.pin_memory, self.timeout = dataset, num_workers, pin_memory, timeout
        self.generator, self.worker_init_fn, self.prefetch_factor = generator, worker_init_fn, prefetch_factor
        self.persistent_workers = persistent_workers
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified shuffle option, but got shuffle={shuffle}"
                )
            if sampler is not None or batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified sampler and batch_sampler options"
                )
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size, self.drop_last, self.sampler, self.batch_sampler = (
            batch_size,
            drop_last,
            sampler,
            batch_sampler,
        )
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    def __iter__(self):
        if self._iterable:
            yield from self._iterate_stream()
            return
        if self.batch_sampler is None:  # batch_size=None: one example at a time
            for index in self.sampler:
                yield self.collate_fn(self.dataset[index])
            return
        for indices in self.batch_sampler:
            yield self.collate_fn([self.dataset[i] for i in indices])

    def _iterate_stream(self):
        if self.batch_size is None:
            for example in self.dataset:
                yield self.collate_fn(example)
            return
        batch = []
        for example in self.dataset:
            batch.append(example)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)  # a TypeError when the stream has no length, as PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)


def get_worker_info():
    """None: there are no worker processes here, and PyTorch answers None in the main process too."""
    return None
