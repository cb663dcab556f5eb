"""Samplers: the order in which a DataLoader visits a dataset's examples, as torch.utils.data.

A sampler is an iterable of indices (a BatchSampler: of lists of indices) with a length.
The random ones draw from a Generator: the one given as `generator=`, or else a fresh one
seeded from the default generator at the start of each pass, so `tensor.manual_seed(s)`
makes every shuffle reproducible, and two passes see two different orders.
"""

from tensor.random import Generator
from tensor.random import generator as default_generator


def _generator_for_one_pass(generator):
    """The generator to draw a pass from: the caller's, or a new one seeded by the default one."""
    if generator is not None:
        return generator
    seed = int(default_generator("cpu").integers(0, 2**63 - 1, size=None))
    return Generator("cpu").manual_seed(seed)


def _permutation(n, generator):
    """0..n-1 in a random order, as Python ints (tensor.randperm's order)."""
    return generator.permutation(n).tolist()


def _integers(high, count, generator):
    """`count` integers drawn uniformly from [0, high), as Python ints."""
    return generator.integers(0, high, size=count).tolist()


class Sampler:
    """Base class: an iterable of dataset indices. Subclasses define __iter__ (and __len__ when known)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1, in order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """Indices in a random order.

    Without replacement: whole permutations of the dataset one after another, the last one cut
    short, until num_samples indices (default: len(data_source), one permutation).
    With replacement: num_samples independent uniform draws. The draws are made lazily, 32 at a
    time (as PyTorch), so `num_samples=int(1e10)` costs nothing until iterated, and an
    infinite-looking stream of batches (makemore's InfiniteDataLoader) is cheap.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        self.data_source, self.replacement, self._num_samples, self.generator = (
            data_source,
            replacement,
            num_samples,
            generator,
        )
        if not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, total = len(self.data_source), self.num_samples
        generator = _generator_for_one_pass(self.generator)
        if self.replacement:
            for _ in range(total // 32):
                yield from _integers(n, 32, generator)
            yield from _integers(n, total % 32, generator)
        else:
            for _ in range(total // n):
                yield from _permutation(n, generator)
            yield from _permutation(n, generator)[: total % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices, in a random order (one permutation per pass)."""

    def __init__(self, indices, generator=None):
        self.indices, self.generator = indices, generator

    def __iter__(self):
        for i in _permutation(len(self.indices), _generator_for_one_pass(self.generator)):
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class BatchSampler(Sampler):
    """Group another sampler's indices into lists of batch_size; the last shorter one is kept unless drop_last."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        whole, rest = divmod(len(self.sampler), self.batch_size)
        return whole if self.drop_last or not rest else whole + 1
