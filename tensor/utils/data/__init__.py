"""tensor.utils.data: feeding a model batches of examples, as torch.utils.data.

A Dataset says how many examples there are and how to get example i. A Sampler says in
which order to visit them. A DataLoader groups the sampler's indices into batches, fetches
each example and collates the batch into tensors:

    loader = DataLoader(TensorDataset(X, Y), batch_size=32, shuffle=True)
    for xb, yb in loader:   # xb: (32, ...) stacked from 32 rows of X, yb likewise
        ...

Everything loads in the calling process: `num_workers` and `pin_memory` are accepted so
PyTorch programs run unchanged, and change nothing here.
"""

from .dataloader import DataLoader, default_collate, default_convert, get_worker_info
from .dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler

__all__ = [
    "BatchSampler",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "default_collate",
    "default_convert",
    "get_worker_info",
    "random_split",
]
