"""Elementwise functions, operators and their reflected forms, against PyTorch (values, dtypes, gradients)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.conformance.oracle import check, check_raises, random_array

DTYPES = ["float64", "float32"]
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)
seeds = st.integers(0, 2**32 - 1)

# name -> (function of (ns, x), low, high): the domain keeps every function differentiable
UNARY = {
    "exp": (lambda ns, x: x.exp(), -2, 2),
    "log": (lambda ns, x: x.log(), 0.1, 3),
    "sqrt": (lambda ns, x: x.sqrt(), 0.1, 3),
    "tanh": (lambda ns, x: x.tanh(), -2, 2),
    "sigmoid": (lambda ns, x: x.sigmoid(), -3, 3),
    "relu": (lambda ns, x: x.relu(), -2, 2),
    "abs": (lambda ns, x: x.abs(), -2, 2),
    "sin": (lambda ns, x: x.sin(), -3, 3),
    "cos": (lambda ns, x: x.cos(), -3, 3),
    "erf": (lambda ns, x: x.erf(), -2, 2),
    "neg": (lambda ns, x: -x, -2, 2),
    "torch_exp": (lambda ns, x: ns.torch.exp(x), -2, 2),
    "torch_log": (lambda ns, x: ns.torch.log(x), 0.1, 3),
    "torch_sqrt": (lambda ns, x: ns.torch.sqrt(x), 0.1, 3),
    "torch_tanh": (lambda ns, x: ns.torch.tanh(x), -2, 2),
    "torch_sigmoid": (lambda ns, x: ns.torch.sigmoid(x), -3, 3),
    "torch_relu": (lambda ns, x: ns.torch.relu(x), -2, 2),
    "torch_abs": (lambda ns, x: ns.torch.abs(x), -2, 2),
    "torch_sin": (lambda ns, x: ns.torch.sin(x), -3, 3),
    "torch_cos": (lambda ns, x: ns.torch.cos(x), -3, 3),
    "torch_erf": (lambda ns, x: ns.torch.erf(x), -2, 2),
    "pow_2": (lambda ns, x: x**2, -2, 2),
    "pow_3": (lambda ns, x: x**3, -2, 2),
    "pow_half": (lambda ns, x: x**0.5, 0.1, 3),
    "pow_minus_one": (lambda ns, x: x**-1, 0.5, 3),
    "pow_method": (lambda ns, x: x.pow(2), -2, 2),
    "rpow_2": (lambda ns, x: 2**x, -2, 2),
    "rpow_float": (lambda ns, x: 1.5**x, -2, 2),
    "radd": (lambda ns, x: 3 + x, -2, 2),
    "rsub": (lambda ns, x: 3 - x, -2, 2),
    "rmul": (lambda ns, x: 3 * x, -2, 2),
    "rtruediv": (lambda ns, x: 3 / x, 0.5, 3),
    "add_scalar": (lambda ns, x: x + 0.5, -2, 2),
    "sub_scalar": (lambda ns, x: x - 0.5, -2, 2),
    "mul_scalar": (lambda ns, x: x * 0.5, -2, 2),
    "div_scalar": (lambda ns, x: x / 4, -2, 2),
    "add_int_scalar": (lambda ns, x: x + 2, -2, 2),
    "clone": (lambda ns, x: x.clone(), -2, 2),
    "detach": (lambda ns, x: x.detach(), -2, 2),
    "softmax_last": (lambda ns, x: x.softmax(-1) if x.ndim else x.softmax(0), -3, 3),
    "log_softmax_last": (lambda ns, x: x.log_softmax(-1) if x.ndim else x.log_softmax(0), -3, 3),
    "torch_softmax_first": (lambda ns, x: ns.torch.softmax(x, 0), -3, 3),
    "torch_log_softmax_first": (lambda ns, x: ns.torch.log_softmax(x, 0), -3, 3),
    "round": (lambda ns, x: ns.torch.round(x.detach()), -3, 3),
    "round_decimals": (lambda ns, x: ns.torch.round(x.detach(), decimals=1), -3, 3),
    "compare_gt_scalar": (lambda ns, x: x > 0.5, -2, 2),
    "compare_le_scalar": (lambda ns, x: x <= 0, -2, 2),
    "compare_eq_self": (lambda ns, x: x == x, -2, 2),
    "compare_ne_scalar": (lambda ns, x: x != 1.0, -2, 2),
    "mod_scalar": (lambda ns, x: x.detach() % 0.75, -2, 2),
    "floordiv_scalar": (lambda ns, x: x.detach() // 0.75, -2, 2),
    "invert_mask": (lambda ns, x: ~(x > 0), -2, 2),
    "and_masks": (lambda ns, x: (x > 0) & (x < 1), -2, 2),
    "or_masks": (lambda ns, x: (x > 1) | (x < -1), -2, 2),
    "masked_fill": (lambda ns, x: x.masked_fill(x > 0.5, -1.0), -2, 2),
    "torch_masked_fill": (lambda ns, x: ns.torch.masked_fill(x, x < 0, float("-inf")).exp(), -2, 2),
    "where_scalar_other": (lambda ns, x: ns.torch.where(x > 0, x, 0.0), -2, 2),
    "where_scalar_input": (lambda ns, x: ns.torch.where(x > 0, 1.0, x), -2, 2),
    "float_cast": (lambda ns, x: x.float(), -2, 2),
    "double_cast": (lambda ns, x: x.double(), -2, 2),
    "to_float64": (lambda ns, x: x.to(ns.torch.float64), -2, 2),
    "to_cpu": (lambda ns, x: x.to("cpu") * 2, -2, 2),
    "cpu": (lambda ns, x: x.cpu() * 2, -2, 2),
    "long_cast": (lambda ns, x: x.long(), -3, 3),
    "int_cast": (lambda ns, x: x.int(), -3, 3),
    "bool_cast": (lambda ns, x: x.bool(), -3, 3),
    "isclose_self": (lambda ns, x: ns.torch.isclose(x, x + 1e-9), -2, 2),
    "allclose_self": (lambda ns, x: ns.torch.allclose(x, x * (1 + 1e-7)), -2, 2),
    "equal_self": (lambda ns, x: ns.torch.equal(x, x.clone()), -2, 2),
    "maximum_scalar_tensor": (lambda ns, x: ns.torch.maximum(x, ns.torch.zeros_like(x)), -2, 2),
    "zeros_like": (lambda ns, x: ns.torch.zeros_like(x), -2, 2),
    "ones_like": (lambda ns, x: ns.torch.ones_like(x), -2, 2),
    "requires_grad_of_int_cast_is_false": (lambda ns, x: x.long().requires_grad, -2, 2),
    "numel": (lambda ns, x: x.numel(), -2, 2),
    "dim": (lambda ns, x: x.dim(), -2, 2),
    "ndim": (lambda ns, x: x.ndim, -2, 2),
    "size": (lambda ns, x: tuple(x.size()), -2, 2),
    "shape": (lambda ns, x: tuple(x.shape), -2, 2),
    "tolist": (lambda ns, x: x.detach().tolist(), -2, 2),
    "is_leaf": (lambda ns, x: (x.is_leaf, (x * 2).is_leaf), -2, 2),
    "reciprocal": (lambda ns, x: x.reciprocal(), 0.5, 3),
    "torch_reciprocal": (lambda ns, x: ns.torch.reciprocal(-x), 0.5, 3),
    "scalar_divided_by_tensor": (lambda ns, x: 3.0 / x, 0.5, 3),
    "reciprocal_of_int_cast": (lambda ns, x: x.long().reciprocal(), 1, 4),
    "reciprocal_of_bool_cast": (lambda ns, x: (x > 1).reciprocal(), 0.5, 3),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=shapes, seed=seeds)
def test_unary_matches_pytorch(name, dtype, shape, seed):
    fn, low, high = UNARY[name]
    check(fn, random_array(np.random.default_rng(seed), shape, dtype, low, high), seed=seed)


def test_softmax_over_an_empty_dim_gives_an_empty_tensor_as_pytorch():
    check(lambda ns, x: (x.softmax(-1), x.log_softmax(-1)), np.zeros((2, 0)))


BINARY = {
    "add": (lambda ns, a, b: a + b, -2, 2),
    "sub": (lambda ns, a, b: a - b, -2, 2),
    "mul": (lambda ns, a, b: a * b, -2, 2),
    "truediv": (lambda ns, a, b: a / b, 0.5, 2),
    "pow": (lambda ns, a, b: a**b, 0.5, 2),
    "add_method": (lambda ns, a, b: a.add(b), -2, 2),
    "sub_method": (lambda ns, a, b: a.sub(b), -2, 2),
    "mul_method": (lambda ns, a, b: a.mul(b), -2, 2),
    "div_method": (lambda ns, a, b: a.div(b), 0.5, 2),
    "maximum": (lambda ns, a, b: ns.torch.maximum(a, b), -2, 2),
    "minimum": (lambda ns, a, b: ns.torch.minimum(a, b), -2, 2),
    "where": (lambda ns, a, b: ns.torch.where(a > b, a, b), -2, 2),
    "lt": (lambda ns, a, b: a < b, -2, 2),
    "ge": (lambda ns, a, b: a >= b, -2, 2),
    "eq": (lambda ns, a, b: a == b, -2, 2),
    "add_then_mean": (lambda ns, a, b: (a + b).mean(), -2, 2),
    "isclose": (lambda ns, a, b: ns.torch.isclose(a, b, atol=0.5), -2, 2),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(BINARY))
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=3), seed=seeds
)
def test_broadcasting_binary_matches_pytorch(name, dtype, shapes, seed):
    fn, low, high = BINARY[name]
    rng = np.random.default_rng(seed)
    a, b = (
        random_array(rng, s, dtype, low, high, distinct=name in ("maximum", "minimum", "where"))
        for s in shapes.input_shapes
    )
    if name in ("maximum", "minimum", "where"):
        b = np.asarray(b + 0.01)  # no ties between a and b
    check(fn, a, b, seed=seed)


@pytest.mark.parametrize(
    "left, right",
    [("float32", "float64"), ("float64", "float32"), ("int64", "float32"), ("float32", "int64"), ("int32", "int64")],
)
@pytest.mark.parametrize("op", ["add", "mul", "sub", "truediv"])
def test_type_promotion_matches_pytorch(op, left, right):
    rng = np.random.default_rng(0)
    a = (rng.uniform(1, 3, (2, 3)) * 4).astype(left)
    b = (rng.uniform(1, 3, (3,)) * 4).astype(right)
    check(lambda ns, x, y: getattr(x, f"__{op}__")(y), a, b, grad=False)


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
@pytest.mark.parametrize("scalar", [2, 2.5, True])
def test_scalar_promotion_of_integer_and_bool_tensors_matches_pytorch(dtype, scalar):
    a = np.array([[0, 1, 2], [3, 4, 5]]).astype(dtype)
    check(lambda ns, x: (x + scalar, x * scalar), a, grad=False)


@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_integer_true_division_gives_float32_as_pytorch(dtype):
    check(lambda ns, x: (x / 2, 2 / (x + 1), x / x.clone().add(1)), np.arange(6).astype(dtype), grad=False)


@pytest.mark.parametrize("dtype", ["int64", "float64"])
def test_integer_mod_and_floordiv_of_negatives_match_pytorch(dtype):
    a = np.array([-7, -3, 0, 3, 7]).astype(dtype)
    check(lambda ns, x: (x % 3, x // 3, x % -3, x // -2), a, grad=False)


def test_incompatible_broadcast_raises_as_pytorch():
    check_raises(lambda ns, a, b: a + b, np.zeros((2, 3)), np.zeros((4,)))


def test_masked_fill_with_a_float_mask_raises_as_pytorch():
    check_raises(lambda ns, a: a.masked_fill(a, 0.0), np.zeros((2, 3)))


def test_invert_of_a_float_tensor_raises_as_pytorch():
    check_raises(lambda ns, a: ~a, np.zeros((2, 3)))


CLAMP_BOUNDS = [
    dict(min=-0.5, max=0.5),
    dict(min=0.0),
    dict(max=0.25),
    dict(min=0.5, max=-0.5),  # min above max: every element becomes max, as PyTorch
]


@pytest.mark.parametrize("bounds", CLAMP_BOUNDS)
@pytest.mark.parametrize("spelling", ["method", "torch.clamp", "torch.clip", "clip method"])
@given(seed=st.integers(0, 2**16))
def test_clamp_and_clip_match_pytorch_in_values_and_gradients(bounds, spelling, seed):
    rng = np.random.default_rng(seed)
    x = rng.choice([-0.5, 0.0, 0.25, 0.5], size=(3, 4)) if seed % 3 == 0 else rng.standard_normal((3, 4))  # ties too
    call = {
        "method": lambda ns, x: x.clamp(**bounds),
        "torch.clamp": lambda ns, x: ns.torch.clamp(x, **bounds),
        "torch.clip": lambda ns, x: ns.torch.clip(x, **bounds),
        "clip method": lambda ns, x: x.clip(**bounds),
    }[spelling]
    check(call, x, seed=seed)


def test_clamp_with_tensor_bounds_and_of_an_int_tensor_matches_pytorch():
    low, high = np.array([-1.0, 0.0, 0.5]), np.array([0.0, 1.0, 2.0])
    check(lambda ns, x, lo, hi: x.clamp(lo, hi), np.array([[-3.0, 0.5, 1.0], [0.5, 4.0, 0.7]]), low, high)
    check(lambda ns, x: (x.clamp(min=0), x.clamp(max=1.5), x.clamp(0, 1)), np.array([-2, 0, 3]), grad=False)
    check_raises(lambda ns: ns.torch.tensor([1.0]).clamp())
