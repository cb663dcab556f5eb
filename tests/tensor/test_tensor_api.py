"""The PyTorch-like surface: dtypes, creation, randomness, indexing, shape methods, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensor


def test_default_float_dtype_is_float32(device):
    assert tensor.tensor([1.0, 2.0], device=device).dtype == tensor.float32
    assert tensor.zeros(2, 3, device=device).dtype == tensor.float32
    assert tensor.Tensor([1, 2]).dtype == tensor.float32


def test_integer_data_is_int64_and_bool_data_is_bool(device):
    assert tensor.tensor([1, 2], device=device).dtype == tensor.long
    assert tensor.tensor([True], device=device).dtype == tensor.bool


def test_python_scalars_keep_the_tensor_dtype(device):
    x = tensor.ones(3, device=device)
    for y in (x * 0.5, 0.5 * x, x + 1, x / 3, 2.0 - x, x**2.0):
        assert y.dtype == tensor.float32
    assert (tensor.arange(3, device=device) * 2).dtype == tensor.long
    assert (tensor.arange(3, device=device) * 0.5).dtype == tensor.float32


def test_mixed_float_dtypes_promote_to_the_wider(device):
    a = tensor.ones(2, device=device)
    b = tensor.ones(2, dtype=tensor.float64, device=device)
    assert (a + b).dtype == tensor.float64
    assert (tensor.arange(2, device=device) + a).dtype == tensor.float32


def test_conversions(device):
    x = tensor.tensor([1.7, -2.2], device=device)
    assert x.long().tolist() == [1, -2] and x.long().dtype == tensor.int64
    assert x.int().dtype == tensor.int32
    assert x.double().dtype == tensor.float64 and x.float().dtype == tensor.float32
    assert x.bool().tolist() == [True, True]
    assert tensor.round(x).tolist() == [2.0, -2.0]


def test_size_numel_dim_item(device):
    x = tensor.zeros(2, 3, 4, device=device)
    assert x.size() == (2, 3, 4) and x.size(-1) == 4 and x.numel() == 24 and x.dim() == 3
    assert tensor.tensor(2.5, device=device).item() == 2.5
    with pytest.raises(RuntimeError, match="one element"):
        x.item()


def test_manual_seed_makes_every_random_function_reproducible(device):
    def draw():
        tensor.manual_seed(123)
        return [
            tensor.rand(3, device=device).tolist(),
            tensor.randn(2, 2, device=device).tolist(),
            tensor.randint(10, (4,), device=device).tolist(),
            tensor.randint(5, 9, (4,), device=device).tolist(),
            tensor.multinomial(tensor.tensor([0.2, 0.3, 0.5], device=device), 2).tolist(),
            tensor.randperm(5, device=device).tolist(),
        ]

    assert draw() == draw()


def test_randint_respects_bounds(device):
    draws = tensor.randint(3, 7, (1000,), device=device)
    assert draws.dtype == tensor.long
    assert draws.min().item() == 3 and draws.max().item() == 6


def test_multinomial_frequencies_follow_the_probabilities(device):
    probs = tensor.tensor([[0.1, 0.6, 0.3], [0.0, 0.0, 1.0]], device=device)
    samples = tensor.multinomial(probs, 4000, replacement=True).numpy() if device == "cpu" else None
    if samples is None:
        samples = tensor.multinomial(probs, 4000, replacement=True).cpu().numpy()
    freq = np.bincount(samples[0], minlength=3) / 4000
    np.testing.assert_allclose(freq, [0.1, 0.6, 0.3], atol=0.03)
    assert (samples[1] == 2).all()


def test_multinomial_without_replacement_never_repeats(device):
    samples = tensor.multinomial(tensor.ones(2, 6, device=device), 6).tolist()
    assert all(sorted(row) == list(range(6)) for row in samples)


def test_tril_and_triu(device):
    x = tensor.ones(3, 3, device=device)
    assert tensor.tril(x).tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert tensor.triu(x, 1).tolist() == [[0, 1, 1], [0, 0, 1], [0, 0, 0]]


def test_max_with_dim_returns_values_and_indices(device):
    x = tensor.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], device=device)
    values, indices = x.max(dim=1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert x.max().item() == 7.0 and x.min(dim=0).indices.tolist() == [0, 1, 0]


@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=8))
def test_var_and_std_match_numpy_with_bessels_correction(values):
    x = tensor.tensor(values, dtype=tensor.float64)
    np.testing.assert_allclose(x.var().item(), np.var(values, ddof=1), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(x.std(correction=0).item(), np.std(values), rtol=1e-9, atol=1e-9)


def test_indexing_like_pytorch(device):
    x = tensor.arange(24, device=device).reshape(2, 3, 4)
    assert x[:, -1, :].tolist() == [[8, 9, 10, 11], [20, 21, 22, 23]]
    assert x[0, ::2, ::-1].tolist() == [[3, 2, 1, 0], [11, 10, 9, 8]]
    assert x[None, 1, 0].shape == (1, 4)
    assert x[tensor.tensor([1, 1, 0], device=device)].shape == (3, 3, 4)
    assert x[x > 20].tolist() == [21, 22, 23]


def test_out_of_range_integer_index_raises_index_error(device):
    x = tensor.zeros(3, 2, device=device)
    with pytest.raises(IndexError, match="out of bounds for dim 0 with size 3"):
        x[tensor.tensor([0, 3], device=device)]
    with pytest.raises(IndexError, match="dim 1 with size 2"):
        x[:, [-3]]
    with pytest.raises(IndexError):
        x[5]


def test_shape_methods(device):
    x = tensor.zeros(2, 1, 3, device=device)
    assert x.view(6).shape == (6,) and x.reshape(-1, 3).shape == (2, 3)
    assert x.squeeze().shape == (2, 3) and x.squeeze(1).shape == (2, 3) and x.unsqueeze(-1).shape == (2, 1, 3, 1)
    assert x.transpose(0, 2).shape == (3, 1, 2) and x.permute(2, 0, 1).shape == (3, 2, 1)
    assert x.flatten().shape == (6,) and x.flatten(1).shape == (2, 3)
    assert x.expand(4, 2, 5, 3).shape == (4, 2, 5, 3) and x.expand(-1, 4, -1).shape == (2, 4, 3)


def test_bad_reshape_names_both_shapes(device):
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\).*into \(4,\)"):
        tensor.zeros(2, 3, device=device).reshape(4)


def test_matmul_shape_mismatch_names_both_shapes(device):
    with pytest.raises(RuntimeError, match=r"\(2, 3\) and \(4, 5\)"):
        tensor.zeros(2, 3, device=device) @ tensor.zeros(4, 5, device=device)


def test_broadcast_failure_names_both_shapes(device):
    with pytest.raises(RuntimeError, match=r"\(2, 3\) and \(4,\)"):
        tensor.zeros(2, 3, device=device) + tensor.zeros(4, device=device)


def test_module_level_comparisons(device):
    a = tensor.tensor([1.0, 2.0], device=device)
    assert tensor.allclose(a, a + 1e-9) and not tensor.allclose(a, a + 1)
    assert tensor.isclose(a, tensor.tensor([1.0, 3.0], device=device)).tolist() == [True, False]
    assert tensor.equal(a, a.clone()) and not tensor.equal(a, a[:1])
    assert tensor.all(a > 0).item() and not tensor.any(a > 5).item()


def test_cat_stack_where_masked_fill(device):
    a, b = tensor.ones(2, 2, device=device), tensor.zeros(1, 2, device=device)
    assert tensor.cat([a, b]).shape == (3, 2) and tensor.concat([a, b], dim=0).shape == (3, 2)
    assert tensor.stack([a, a], dim=1).shape == (2, 2, 2)
    mask = tensor.tensor([[True, False], [False, True]], device=device)
    assert tensor.where(mask, a, 5.0).tolist() == [[1, 5], [5, 1]]
    assert a.masked_fill(mask, float("-inf")).tolist() == [[float("-inf"), 1], [1, float("-inf")]]
    with pytest.raises(RuntimeError, match="except in that dim"):
        tensor.cat([a, tensor.zeros(1, 3, device=device)])


def test_setitem_is_allowed_outside_the_graph_only(device):
    x = tensor.zeros(3, device=device)
    x[1] = 5.0
    assert x.tolist() == [0, 5, 0]
    w = tensor.zeros(3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        w[0] = 1.0


def test_numpy_refuses_tensors_that_require_grad():
    with pytest.raises(RuntimeError, match="detach"):
        tensor.ones(2, requires_grad=True).numpy()


def test_cuda_unavailable_is_a_clear_error():
    if tensor.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="cuda"):
        tensor.zeros(2, device="cuda")


def test_unknown_device_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        tensor.zeros(2, device="tpu")


def test_mixing_devices_names_both(device):
    if device == "cpu":
        pytest.skip("needs a second device")
    with pytest.raises(RuntimeError, match="one device"):
        tensor.zeros(2) + tensor.zeros(2, device="cuda")


def test_to_device_round_trip_keeps_values_and_gradient(device):
    x = tensor.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(device)
    assert y.device == device
    (y * y).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0] and x.grad.device == "cpu"


def test_erf_matches_math_erf_to_float_resolution():
    import math

    xs = np.linspace(-6, 6, 2001)
    reference = np.array([math.erf(v) for v in xs])
    assert np.abs(tensor.tensor(xs, dtype=tensor.float64).erf().numpy() - reference).max() < 1e-14
    xs32 = xs.astype(np.float32)  # compare against erf of the float32 inputs themselves
    reference32 = np.array([math.erf(float(v)) for v in xs32])
    ulp_at_one = np.finfo(np.float32).eps
    assert np.abs(tensor.tensor(xs32).erf().numpy() - reference32).max() < 4 * ulp_at_one


def test_torch_device_objects_work_where_device_names_do(device):
    """`device = torch.device("cuda" if torch.cuda.is_available() else "cpu")`, as scripts write it."""
    where = tensor.device(device)
    assert where == device and where.type == device and where.index is None
    assert tensor.device(f"{device}:0").index == 0 and tensor.device(device, 0) == device
    assert repr(tensor.device("cuda:0")) == "device(type='cuda', index=0)"
    x = tensor.ones(2, device=where)
    assert x.device == where and x.device.type == device and repr(x.device) == f"device(type='{device}')"
    assert x.to(tensor.device("cpu")).device.type == "cpu"
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        tensor.device("gpu")


def test_dtypes_compare_equal_exactly_when_their_numpy_dtypes_do():
    for a in tensor.dtypes.SUPPORTED:
        for b in tensor.dtypes.SUPPORTED:
            assert (a == b) is (a.dtype == b.dtype) and (a != b) is (a.dtype != b.dtype)
        assert a == a.dtype and a == a.dtype.name and a == np.dtype(a.dtype).type
    assert tensor.float32 != "float64" and tensor.float32 != None  # noqa: E711 (the operator is what is tested)
    assert tensor.bool != tensor.int64 and tensor.int32 != tensor.int64
