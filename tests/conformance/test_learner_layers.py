"""The layers, losses and data tools learners meet after the GPT lecture, against PyTorch:
BatchNorm1d, CrossEntropyLoss and cross_entropy's general forms, MSELoss, Identity, Sigmoid,
Flatten, one_hot, and torch.utils.data's datasets, samplers, collation and random_split."""

import numpy as np
import pytest

import tensor  # noqa: E402  (after the oracle, which skips without PyTorch)
from tensor.utils import data as our_data  # noqa: E402
from tests.conformance.oracle import OURS, TORCH, check, check_raises, compare, to_side

torch = pytest.importorskip("torch")
from torch.utils import data as torch_data  # noqa: E402

RNG = np.random.default_rng(0)
F64 = {"float64": dict(rtol=1e-7, atol=1e-9)}["float64"]


def x(*shape):
    return RNG.standard_normal(shape)


# ----- BatchNorm1d ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"momentum": None},
        {"momentum": 0.3, "eps": 1e-3},
        {"affine": False},
        {"track_running_stats": False},
        {"bias": False},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default",
)
def test_batch_norm_1d_matches_pytorch_in_train_and_eval_across_steps(shape, options):
    """Three training steps (values, input and parameter gradients, running stats, num_batches_tracked),
    then eval on a new batch; PyTorch's module is the oracle, our copy loaded from its state dict."""
    theirs = torch.nn.BatchNorm1d(3, **options).double()
    ours = tensor_module = OURS.nn.BatchNorm1d(3, **options).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for step in range(3):
        batch = x(*shape)
        t_in, o_in = to_side(TORCH, batch), to_side(OURS, batch)
        t_out, o_out = theirs(t_in), ours(o_in)
        compare(t_out, o_out, F64, what=f"step {step} output")
        upstream = x(*shape)
        t_out.backward(torch.tensor(upstream))
        o_out.backward(tensor.tensor(upstream))
        compare(t_in.grad, o_in.grad, F64, what=f"step {step} input gradient")
        if options.get("affine", True):
            compare(theirs.weight.grad, ours.weight.grad, F64, what="weight gradient")
        if options.get("affine", True) and options.get("bias", True):
            compare(theirs.bias.grad, ours.bias.grad, F64, what="bias gradient")
        for name, buffer in theirs.named_buffers():
            compare(buffer, dict(tensor_module.named_buffers())[name], F64, what=f"step {step} {name}")
    theirs.eval(), ours.eval()
    batch = x(*shape)
    compare(theirs(torch.tensor(batch)), ours(tensor.tensor(batch)), F64, what="eval output")


@pytest.mark.parametrize(
    "make_input",
    [lambda: x(1, 3), lambda: x(2, 3, 4, 5), lambda: x(4, 2), lambda: x(3)],
    ids=["one_value_per_channel", "4d", "wrong_channels", "1d"],
)
def test_batch_norm_1d_refuses_what_pytorch_refuses(make_input):
    check_raises(lambda ns, a: ns.nn.BatchNorm1d(3)(a), make_input())


# ----- losses ----------------------------------------------------------------------------------------------

TARGETS = np.array([0, 3, 1, -100, 2, 1])
PROBABILITIES = RNG.dirichlet(np.ones(4), size=6)
WEIGHTS = RNG.uniform(0.2, 2.0, size=4)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("targets", ["indices", "probabilities"])
def test_cross_entropy_with_weights_and_probability_targets_matches_pytorch(
    reduction, label_smoothing, weighted, targets
):
    target = TARGETS if targets == "indices" else PROBABILITIES

    def fn(ns, logits):  # target and weight made here: they do not require grad
        weight = ns.torch.tensor(WEIGHTS) if weighted else None
        return ns.F.cross_entropy(
            logits, ns.torch.tensor(target), weight=weight, reduction=reduction, label_smoothing=label_smoothing
        )

    check(fn, x(6, 4))


@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_with_class_dim_second_and_weights_matches_pytorch(weighted):
    target = RNG.integers(0, 4, size=(2, 5))
    probabilities = RNG.dirichlet(np.ones(4), size=(2, 5)).transpose(0, 2, 1)  # (N, C, d): classes in dim 1

    def weight(ns):
        return ns.torch.tensor(WEIGHTS) if weighted else None

    check(lambda ns, a, t: ns.F.cross_entropy(a, t, weight=weight(ns), reduction="none"), x(2, 4, 5), target)
    check(lambda ns, a: ns.F.cross_entropy(a, ns.torch.tensor(probabilities), weight=weight(ns)), x(2, 4, 5))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("target", [np.array(2), PROBABILITIES[0]], ids=["index", "probabilities"])
def test_cross_entropy_of_one_unbatched_row_matches_pytorch(reduction, target):
    check(lambda ns, a: ns.F.cross_entropy(a, ns.torch.tensor(target), reduction=reduction), x(4))


def test_cross_entropy_loss_module_matches_pytorch():
    def fn(ns, logits, target):
        loss = ns.nn.CrossEntropyLoss(weight=ns.torch.tensor(WEIGHTS), ignore_index=1, label_smoothing=0.1)
        return loss(logits, target)

    check(fn, x(6, 4), np.array([0, 3, 1, 1, 2, 1]))
    check(lambda ns, a, t: ns.nn.CrossEntropyLoss(reduction="sum")(a, t), x(6, 4), np.array([0, 1, 2, 3, 0, 1]))


@pytest.mark.parametrize(
    "fn, arrays",
    [
        (
            lambda ns, a, t: ns.F.cross_entropy(a, t, weight=ns.torch.tensor(x(3))),
            (x(6, 4), np.array([0, 1, 2, 3, 0, 1])),
        ),
        (lambda ns, a, t: ns.F.cross_entropy(a, t, ignore_index=1), (x(6, 4), PROBABILITIES)),
        (lambda ns, a, t: ns.F.cross_entropy(a, t), (x(6, 4), np.array([0, 1, 2, 3, 4, 1]))),
        (lambda ns, a, t: ns.F.cross_entropy(a, t), (x(6, 4), x(6))),
        (lambda ns, a, t: ns.F.cross_entropy(a, t), (x(4), np.array(4))),
    ],
    ids=[
        "weight_of_wrong_length",
        "ignore_index_with_probabilities",
        "target_out_of_range",
        "float_indices",
        "unbatched_out_of_range",
    ],
)
def test_cross_entropy_refuses_what_pytorch_refuses(fn, arrays):
    check_raises(fn, *arrays)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_and_its_module_match_pytorch(reduction):
    check(lambda ns, a, b: ns.F.mse_loss(a, b, reduction=reduction), x(3, 4), x(3, 4))
    check(lambda ns, a, b: ns.nn.MSELoss(reduction=reduction)(a, b), x(5), x(5))


def test_legacy_size_average_and_reduce_pick_the_reduction_as_pytorch():
    check(lambda ns, a, b: ns.nn.MSELoss(size_average=False)(a, b), x(3, 4), x(3, 4))
    check(lambda ns, a, b: ns.F.mse_loss(a, b, reduce=False), x(3, 4), x(3, 4))


def test_mse_loss_refuses_shapes_that_do_not_broadcast():
    check_raises(lambda ns, a, b: ns.F.mse_loss(a, b), x(3), x(2))


# ----- small layers and one_hot ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda ns: ns.nn.Identity(54, unused="ignored"),
        lambda ns: ns.nn.Sigmoid(),
        lambda ns: ns.nn.Flatten(),
        lambda ns: ns.nn.Flatten(0, 1),
        lambda ns: ns.nn.Flatten(start_dim=-2),
    ],
    ids=["identity", "sigmoid", "flatten", "flatten_0_1", "flatten_last_two"],
)
def test_small_layers_match_pytorch(make):
    check(lambda ns, a: make(ns)(a), x(2, 3, 4))


def test_small_layers_print_as_pytorch():
    for make in (lambda ns: ns.nn.Identity(), lambda ns: ns.nn.Sigmoid(), lambda ns: ns.nn.Flatten(1, 2)):
        assert repr(make(OURS)) == repr(make(TORCH))
    assert repr(OURS.nn.CrossEntropyLoss()) == repr(TORCH.nn.CrossEntropyLoss())
    for options in ({}, {"momentum": None, "affine": False}, {"bias": False, "track_running_stats": False}):
        assert repr(OURS.nn.BatchNorm1d(3, **options)) == repr(TORCH.nn.BatchNorm1d(3, **options))


def test_functional_sigmoid_matches_pytorch():
    check(lambda ns, a: ns.F.sigmoid(a), x(3, 4))


@pytest.mark.parametrize("num_classes", [-1, 5])
def test_one_hot_matches_pytorch(num_classes):
    check(lambda ns, t: ns.F.one_hot(t, num_classes), np.array([[0, 2], [3, 1]]))


@pytest.mark.parametrize(
    "indices, num_classes",
    [(np.array([0.0, 1.0]), -1), (np.array([0, 3]), 3), (np.array([-1, 0]), 3), (np.zeros(0, dtype=np.int64), -1)],
    ids=["float", "too_large", "negative", "empty_without_num_classes"],
)
def test_one_hot_refuses_what_pytorch_refuses(indices, num_classes):
    check_raises(lambda ns, t: ns.F.one_hot(t, num_classes), indices)


# ----- torch.utils.data ---------------------------------------------------------------------------------------

DATA = {"torch": torch_data, "ours": our_data}


def both(fn):
    """fn(data_module, torch_or_tensor) on both sides."""
    return fn(torch_data, torch), fn(our_data, tensor)


@pytest.mark.parametrize(
    "batch",
    [
        [(1, 2.0), (3, 4.0)],
        [{"a": 1, "b": [1.5, 2.5]}, {"a": 2, "b": [3.5, 4.5]}],
        [[1, 2], [3, 4]],
        ["x", "y"],
        [True, False],
        [np.zeros((2, 3), dtype=np.float32), np.ones((2, 3), dtype=np.float32)],
        [np.float32(1.5), np.float32(2.5)],
    ],
    ids=["tuples", "dicts", "lists", "strings", "bools", "arrays", "numpy_scalars"],
)
def test_default_collate_of_python_and_numpy_values_matches_pytorch(batch):
    theirs, ours = both(lambda data, _: data.default_collate(batch))
    compare(theirs, ours, F64) if not isinstance(theirs, (list, dict)) else None
    if isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs)
        for t, o in zip(theirs, ours):
            compare(t, o, F64)
    if isinstance(theirs, dict):
        assert list(ours) == list(theirs)
        compare(theirs["a"], ours["a"], F64)
        for t, o in zip(theirs["b"], ours["b"]):
            compare(t, o, F64)


def test_default_collate_stacks_tensors_and_refuses_what_pytorch_refuses():
    rows = x(3, 2)
    theirs, ours = both(lambda data, t: data.default_collate([t.tensor(row) for row in rows]))
    compare(theirs, ours, F64)
    for bad in ([[1, 2], [3]], [object(), object()]):
        with pytest.raises(Exception) as their_error:  # noqa: PT011
            torch_data.default_collate(bad)
        with pytest.raises(type(their_error.value)):
            our_data.default_collate(bad)


@pytest.mark.parametrize("batch_size, drop_last", [(4, False), (4, True), (5, False), (1, False), (None, False)])
def test_data_loader_over_a_tensor_dataset_yields_pytorchs_batches_in_order(batch_size, drop_last):
    inputs, targets = x(10, 3), np.arange(10)
    theirs, ours = both(
        lambda data, t: list(
            data.DataLoader(
                data.TensorDataset(t.tensor(inputs), t.tensor(targets)),
                batch_size=batch_size,
                drop_last=drop_last,
                num_workers=0,
                pin_memory=False,
            )
        )
    )
    assert len(ours) == len(theirs)
    for their_batch, our_batch in zip(theirs, ours):
        assert type(our_batch) is type(their_batch)
        for t, o in zip(their_batch, our_batch):
            compare(t, o, F64)


def test_data_loader_lengths_and_option_errors_match_pytorch():
    dataset = list(range(10))
    for options in ({"batch_size": 3}, {"batch_size": 3, "drop_last": True}, {"batch_size": None}):
        assert len(our_data.DataLoader(dataset, **options)) == len(torch_data.DataLoader(dataset, **options))
    sampler = torch_data.SequentialSampler(dataset)
    for options in (
        {"sampler": sampler, "shuffle": True},
        {"batch_sampler": [[0, 1]], "batch_size": 2},
        {"batch_sampler": [[0, 1]], "drop_last": True},
        {"batch_size": None, "drop_last": True},
        {"num_workers": -1},
    ):
        with pytest.raises(ValueError):
            torch_data.DataLoader(dataset, **options)
        with pytest.raises(ValueError):
            our_data.DataLoader(dataset, **options)


def test_shuffled_loader_visits_every_example_once_per_pass_and_passes_differ():
    loader = our_data.DataLoader(our_data.TensorDataset(tensor.arange(50)), batch_size=8, shuffle=True)
    first, second = ([int(v) for (batch,) in loader for v in batch.tolist()] for _ in range(2))
    assert sorted(first) == sorted(second) == list(range(50))
    assert first != second and first != list(range(50))


def test_random_sampler_lengths_and_errors_match_pytorch():
    data = range(7)
    for options in ({}, {"replacement": True}, {"num_samples": 20}, {"replacement": True, "num_samples": 3}):
        ours = list(our_data.RandomSampler(data, **options))
        assert (
            len(ours) == len(torch_data.RandomSampler(data, **options)) == len(our_data.RandomSampler(data, **options))
        )
        assert all(0 <= i < 7 for i in ours) and all(isinstance(i, int) for i in ours)
    assert sorted(our_data.RandomSampler(data, num_samples=14)) == sorted(list(data) * 2)  # two whole permutations
    for options, error in (
        ({"replacement": 1}, TypeError),
        ({"num_samples": 0}, ValueError),
        ({"num_samples": 2.5}, ValueError),
    ):
        with pytest.raises(error):
            torch_data.RandomSampler(data, **options)
        with pytest.raises(error):
            our_data.RandomSampler(data, **options)


def test_random_sampler_draws_lazily_so_a_huge_num_samples_costs_nothing():
    """makemore's InfiniteDataLoader: RandomSampler(replacement=True, num_samples=int(1e10))."""
    sampler = our_data.RandomSampler(range(5), replacement=True, num_samples=int(1e10))
    loader = our_data.DataLoader(our_data.TensorDataset(tensor.arange(5)), sampler=sampler, batch_size=4)
    batch = next(iter(loader))[0]
    assert len(sampler) == int(1e10) and batch.shape == (4,)


def test_sequential_and_batch_samplers_match_pytorch():
    assert list(our_data.SequentialSampler(range(5))) == list(torch_data.SequentialSampler(range(5)))
    for drop_last in (False, True):
        theirs = torch_data.BatchSampler(torch_data.SequentialSampler(range(7)), 3, drop_last)
        ours = our_data.BatchSampler(our_data.SequentialSampler(range(7)), 3, drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.33, 0.33, 0.34], [0.5, 0.5]])
def test_random_split_sizes_match_pytorch_and_cover_the_dataset_once(lengths):
    theirs, ours = both(lambda data, _: data.random_split(range(10), lengths))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert sorted(i for s in ours for i in s) == list(range(10))


@pytest.mark.parametrize("lengths", [[3, 3], [0.5, 0.6]])
def test_random_split_refuses_lengths_that_do_not_add_up_as_pytorch(lengths):
    with pytest.raises(ValueError):
        torch_data.random_split(range(10), lengths)
    with pytest.raises(ValueError, match="Sum of input lengths"):
        our_data.random_split(range(10), lengths)


def test_tensor_dataset_refuses_tensors_of_different_lengths():
    with pytest.raises(Exception):  # noqa: B017, PT011  (PyTorch: AssertionError)
        torch_data.TensorDataset(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match=r"\(3,\), \(4,\)"):
        our_data.TensorDataset(tensor.zeros(3), tensor.zeros(4))


def test_the_module_paths_learners_import_exist():
    import tensor as torch_like
    from tensor.utils.data.dataloader import DataLoader

    assert torch_like.utils.data.RandomSampler is our_data.RandomSampler and DataLoader is our_data.DataLoader
