"""tensor.utils.data: datasets, samplers, collation and the DataLoader, without PyTorch."""

import numpy as np
import pytest

import tensor
from tensor.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)


class Squares(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        return {"x": float(i), "y": i * i}


def test_a_loader_collates_dict_examples_field_by_field():
    batches = list(DataLoader(Squares(), batch_size=4))
    assert [b["y"].tolist() for b in batches] == [[0, 1, 4, 9], [16, 25]]
    assert batches[0]["x"].dtype == tensor.float64 and batches[0]["y"].dtype == tensor.int64


def test_tensor_dataset_examples_are_rows_and_batches_are_stacked_rows():
    X, Y = tensor.arange(12).reshape(6, 2), tensor.arange(6)
    dataset = TensorDataset(X, Y)
    assert len(dataset) == 6 and dataset[2][0].tolist() == [4, 5] and dataset[2][1].item() == 2
    (xb, yb), *_ = DataLoader(dataset, batch_size=3)
    assert xb.tolist() == [[0, 1], [2, 3], [4, 5]] and yb.tolist() == [0, 1, 2]


def test_collate_fn_and_batch_sampler_replace_the_defaults():
    loader = DataLoader(list(range(10)), batch_sampler=[[9, 0], [5]], collate_fn=lambda batch: sum(batch))
    assert list(loader) == [9, 5] and len(loader) == 2


def test_reseeding_repeats_the_shuffle_and_a_generator_gives_its_own_order():
    def order(**options):
        return [b.item() for b in DataLoader(list(range(20)), shuffle=True, **options)]

    tensor.manual_seed(3)
    first = order()
    tensor.manual_seed(3)
    assert order() == first
    generator = tensor.random.Generator("cpu")
    with_generator = order(generator=generator.manual_seed(7))
    assert order(generator=generator.manual_seed(7)) == with_generator and sorted(with_generator) == list(range(20))


def test_random_sampler_with_replacement_draws_every_index_uniformly():
    counts = np.bincount(list(RandomSampler(range(4), replacement=True, num_samples=4000)), minlength=4)
    assert counts.sum() == 4000 and np.all(np.abs(counts - 1000) < 150)


def test_random_sampler_of_more_samples_than_examples_chains_whole_permutations():
    indices = list(RandomSampler(range(5), num_samples=12))
    assert sorted(indices[:5]) == sorted(indices[5:10]) == list(range(5)) and len(set(indices[10:])) == 2


def test_samplers_compose_into_batches():
    assert list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=False)) == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BatchSampler(SequentialSampler(range(5)), 0, drop_last=False)


def test_random_split_pieces_are_disjoint_subsets_of_the_asked_sizes():
    train, val, test = random_split(list(range(10)), [0.8, 0.1, 0.1])
    assert (len(train), len(val), len(test)) == (8, 1, 1) and isinstance(train, Subset)
    assert sorted(list(train) + list(val) + list(test)) == list(range(10))


def test_an_iterable_dataset_is_batched_in_stream_order():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(7))

    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(), shuffle=True)


def test_default_collate_names_what_it_cannot_batch():
    with pytest.raises(TypeError, match="found <class 'object'>"):
        default_collate([object()])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])


def test_num_workers_and_pin_memory_are_accepted_and_change_nothing():
    plain = [b.tolist() for b in DataLoader(list(range(5)), batch_size=2)]
    assert [b.tolist() for b in DataLoader(list(range(5)), batch_size=2, num_workers=4, pin_memory=True)] == plain


def test_get_worker_info_is_none_as_in_pytorchs_main_process():
    from tensor.utils.data import get_worker_info

    assert get_worker_info() is None
