"""Creating tensors against PyTorch: values where they are determined, else shapes, dtypes, ranges and seeding."""

import numpy as np
import pytest

from tests.conformance.oracle import OURS, TORCH, check, check_raises

DETERMINED = {
    "tensor_of_floats": lambda ns: ns.torch.tensor([1.5, 2.0]),
    "tensor_of_ints": lambda ns: ns.torch.tensor([[1, 2], [3, 4]]),
    "tensor_of_bools": lambda ns: ns.torch.tensor([True, False]),
    "tensor_of_a_number": lambda ns: ns.torch.tensor(3),
    "tensor_of_mixed_int_float": lambda ns: ns.torch.tensor([1, 2.5]),
    "tensor_with_dtype": lambda ns: ns.torch.tensor([1, 2], dtype=ns.torch.float64),
    "tensor_long_dtype": lambda ns: ns.torch.tensor([1.9, -1.9], dtype=ns.torch.long),
    "tensor_of_float64_numpy_keeps_float64": lambda ns: ns.torch.tensor(np.array([1.0, 2.0])),
    "tensor_of_int32_numpy_keeps_int32": lambda ns: ns.torch.tensor(np.array([1, 2], dtype=np.int32)),
    "tensor_requires_grad": lambda ns: ns.torch.tensor([1.0, 2.0], requires_grad=True).requires_grad,
    "Tensor_constructor_is_float32": lambda ns: ns.torch.Tensor([1, 2, 3]),
    "zeros": lambda ns: ns.torch.zeros(2, 3),
    "zeros_tuple": lambda ns: ns.torch.zeros((2, 3)),
    "zeros_long": lambda ns: ns.torch.zeros(3, dtype=ns.torch.long),
    "zeros_empty_dim": lambda ns: ns.torch.zeros(0, 3),
    "ones": lambda ns: ns.torch.ones(4),
    "ones_bool": lambda ns: ns.torch.ones(2, 2, dtype=ns.torch.bool),
    "ones_float64": lambda ns: ns.torch.ones(2, dtype=ns.torch.float64),
    "full_float": lambda ns: ns.torch.full((2, 2), 1.5),
    "full_int": lambda ns: ns.torch.full((3,), 7),
    "full_bool": lambda ns: ns.torch.full((2,), True),
    "full_neg_inf": lambda ns: ns.torch.full((2,), float("-inf")),
    "empty_shape": lambda ns: ns.torch.empty(2, 5).shape,
    "arange_end": lambda ns: ns.torch.arange(5),
    "arange_start_end_step": lambda ns: ns.torch.arange(2, 11, 3),
    "arange_float": lambda ns: ns.torch.arange(0, 1, 0.25),
    "arange_dtype": lambda ns: ns.torch.arange(4, dtype=ns.torch.float32),
    "arange_negative_step": lambda ns: ns.torch.arange(5, 0, -2),
    "linspace": lambda ns: ns.torch.linspace(0, 1, 5),
    "linspace_one_step": lambda ns: ns.torch.linspace(-1, 1, 1),
    "tril_of_ones": lambda ns: ns.torch.tril(ns.torch.ones(3, 4)),
    "triu_of_ones_diagonal": lambda ns: ns.torch.triu(ns.torch.ones(4, 3), diagonal=1),
    "zeros_like_keeps_dtype": lambda ns: ns.torch.zeros_like(ns.torch.tensor([1, 2])),
    "ones_like_with_dtype": lambda ns: ns.torch.ones_like(ns.torch.tensor([1, 2]), dtype=ns.torch.float64),
    "dtype_aliases": lambda ns: [
        str(d).split(".")[-1] for d in (ns.torch.float, ns.torch.double, ns.torch.long, ns.torch.int)
    ],
    "float32_default_of_randn": lambda ns: str(ns.torch.randn(2).dtype).split(".")[-1],
}


@pytest.mark.parametrize("name", sorted(DETERMINED))
def test_creation_matches_pytorch(name):
    check(lambda ns: DETERMINED[name](ns), grad=False)


RANDOM = {
    "rand": lambda ns: ns.torch.rand(3, 4),
    "rand_tuple_float64": lambda ns: ns.torch.rand((2, 3), dtype=ns.torch.float64),
    "randn": lambda ns: ns.torch.randn(2, 3, 4),
    "randn_requires_grad": lambda ns: ns.torch.randn(2, requires_grad=True),
    "randint_high": lambda ns: ns.torch.randint(5, (3, 3)),
    "randint_low_high": lambda ns: ns.torch.randint(2, 6, (10,)),
    "randint_size_keyword": lambda ns: ns.torch.randint(0, 3, size=(2,)),
    "randint_zero_d": lambda ns: ns.torch.randint(10, ()),
    "randperm": lambda ns: ns.torch.randperm(6),
    "multinomial_one": lambda ns: ns.torch.multinomial(ns.torch.tensor([[0.2, 0.8], [0.5, 0.5]]), 1),
    "multinomial_replacement": lambda ns: ns.torch.multinomial(ns.torch.tensor([0.1, 0.9]), 5, replacement=True),
    "multinomial_without_replacement": lambda ns: ns.torch.multinomial(ns.torch.ones(2, 6), 6),
}


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_random_tensor_has_pytorchs_shape_dtype_and_grad_flag(name):
    expected, actual = RANDOM[name](TORCH), RANDOM[name](OURS)
    assert tuple(actual.shape) == tuple(expected.shape)
    assert str(actual.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    assert actual.requires_grad == expected.requires_grad


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_manual_seed_makes_draws_reproducible_as_pytorch(name):
    def twice(ns):
        ns.torch.manual_seed(7)
        first = RANDOM[name](ns).detach().numpy()
        ns.torch.manual_seed(7)
        return np.array_equal(first, RANDOM[name](ns).detach().numpy())

    assert twice(OURS) == twice(TORCH) is True


def test_random_draws_stay_in_pytorchs_ranges():
    OURS.torch.manual_seed(0)
    u = OURS.torch.rand(10_000).numpy()
    ints = OURS.torch.randint(2, 6, (10_000,)).numpy()
    perm = OURS.torch.randperm(50).numpy()
    samples = OURS.torch.multinomial(OURS.torch.ones(3, 8), 8).numpy()
    assert 0 <= u.min() and u.max() < 1
    assert set(np.unique(ints)) == {2, 3, 4, 5}
    assert sorted(perm) == list(range(50))
    assert all(sorted(row) == list(range(8)) for row in samples)


@pytest.mark.parametrize("seed", [0, 3407, 2**40 + 7, -1])
@pytest.mark.parametrize("n", [0, 1, 2, 10, 1000])
def test_randperm_on_the_cpu_gives_pytorchs_order_for_the_same_seed(seed, n):
    """The same Mersenne Twister stream, consumed as PyTorch's Fisher-Yates shuffle consumes it, so a data split
    made by manual_seed then randperm (makemore's, minGPT's adder's) holds the same examples on both sides."""
    orders = []
    for ns in (OURS, TORCH):
        ns.torch.manual_seed(seed)
        ns.torch.rand(0)  # a draw of nothing moves no stream
        orders.append((ns.torch.randperm(n).tolist(), ns.torch.randperm(n).tolist()))
    assert orders[0] == orders[1]


def test_randperm_and_random_split_with_a_generator_of_ones_own_give_pytorchs_order():
    for n in (7, 32033):
        theirs = TORCH.torch.randperm(n, generator=TORCH.torch.Generator().manual_seed(1337)).tolist()
        ours = OURS.torch.randperm(n, generator=OURS.torch.Generator().manual_seed(1337)).tolist()
        assert ours == theirs
    splits = []
    for ns in (OURS, TORCH):
        from_seed = ns.torch.Generator().manual_seed(42)
        pieces = ns.torch.utils.data.random_split(range(20), [0.25, 0.75], generator=from_seed)
        splits.append([list(piece.indices) for piece in pieces])
    assert splits[0] == splits[1]


CREATION_ERRORS = {
    "randint_empty_range": lambda ns, _: ns.torch.randint(3, 3, (2,)),
    "multinomial_negative": lambda ns, _: ns.torch.multinomial(ns.torch.tensor([-0.1, 1.0]), 1),
    "multinomial_too_many_without_replacement": lambda ns, _: ns.torch.multinomial(ns.torch.ones(3), 4),
    "requires_grad_long_tensor": lambda ns, _: ns.torch.tensor([1, 2], requires_grad=True),
    "ragged_nested_list": lambda ns, _: ns.torch.tensor([[1, 2], [3]]),
    "zeros_negative_size": lambda ns, _: ns.torch.zeros(-1),
}


@pytest.mark.parametrize("name", sorted(CREATION_ERRORS))
def test_bad_creation_raises_as_pytorch(name):
    check_raises(CREATION_ERRORS[name], np.zeros(1))


INIT = {
    "zeros_": lambda ns, w: ns.nn.init.zeros_(w),
    "ones_": lambda ns, w: ns.nn.init.ones_(w),
}


@pytest.mark.parametrize("name", sorted(INIT))
def test_deterministic_init_matches_pytorch_and_returns_the_tensor(name):
    def run(ns):
        w = ns.nn.Parameter(ns.torch.tensor(np.full((3, 4), 0.5, dtype=np.float32)))
        with ns.torch.no_grad():
            out = INIT[name](ns, w)
        return out is w, w.detach().numpy().tolist()

    assert run(OURS) == run(TORCH)


@pytest.mark.parametrize("std", [0.02, 1.0])
def test_normal_init_has_pytorchs_mean_and_std(std):
    w = OURS.nn.Parameter(OURS.torch.zeros(200, 200))
    OURS.nn.init.normal_(w, mean=0.5, std=std)
    assert abs(w.detach().numpy().mean() - 0.5) < 0.01 * max(std, 0.1) * 5
    assert abs(w.detach().numpy().std() - std) < 0.02 * std


def test_linear_default_init_has_pytorchs_bound():
    """PyTorch draws Linear's weight and bias from U(-1/sqrt(in), 1/sqrt(in))."""
    layer = OURS.nn.Linear(64, 500)
    bound = 1 / np.sqrt(64)
    for p in (layer.weight, layer.bias):
        values = p.detach().numpy()
        assert values.min() >= -bound and values.max() <= bound and values.max() > 0.9 * bound


def test_embedding_and_layer_norm_default_init_match_pytorch():
    emb = OURS.nn.Embedding(300, 300).weight.detach().numpy()
    assert abs(emb.std() - 1) < 0.02
    ln = OURS.nn.LayerNorm(5)
    assert ln.weight.detach().numpy().tolist() == [1.0] * 5 and ln.bias.detach().numpy().tolist() == [0.0] * 5


def test_module_to_float64_and_apply_match_pytorch():
    def run(ns):
        model = ns.nn.Sequential(ns.nn.Linear(2, 3), ns.nn.LayerNorm(3)).double()
        seen = []
        model.apply(lambda m: seen.append(type(m).__name__))
        return [str(p.dtype).split(".")[-1] for p in model.parameters()], seen

    assert run(OURS) == run(TORCH)
