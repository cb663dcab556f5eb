"""Indexing against PyTorch: basic, advanced (integer tensors and lists), boolean, assignment; gradients scatter back."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conformance.oracle import check, check_raises, random_array

seeds = st.integers(0, 2**32 - 1)


def ints(ns, values):
    return ns.torch.tensor(values)


# name -> function of (ns, x) for x of shape (4, 5, 6)
KEYS = {
    "int": lambda ns, x: x[1],
    "negative_int": lambda ns, x: x[-1],
    "two_ints": lambda ns, x: x[1, 2],
    "three_ints": lambda ns, x: x[1, 2, 3],
    "slice": lambda ns, x: x[1:3],
    "slice_step": lambda ns, x: x[::2],
    "slice_negative_bounds": lambda ns, x: x[-3:-1],
    "slice_empty": lambda ns, x: x[3:1],
    "slice_past_end": lambda ns, x: x[2:100],
    "lecture_last_position": lambda ns, x: x[:, -1, :],
    "ellipsis": lambda ns, x: x[..., 0],
    "ellipsis_middle": lambda ns, x: x[0, ..., 1:3],
    "none": lambda ns, x: x[None],
    "none_middle": lambda ns, x: x[:, None, 2],
    "int_list": lambda ns, x: x[[0, 2, 2]],
    "int_tensor": lambda ns, x: x[ints(ns, [3, 0, 3])],
    "int_tensor_2d": lambda ns, x: x[ints(ns, [[0, 1], [1, 3]])],
    "int_tensor_negative": lambda ns, x: x[ints(ns, [-1, -4])],
    "int_tensor_second_dim": lambda ns, x: x[:, ints(ns, [4, 0])],
    "two_int_tensors": lambda ns, x: x[ints(ns, [0, 1, 3]), ints(ns, [4, 4, 0])],
    "int_tensors_broadcast": lambda ns, x: x[ints(ns, [[0], [2]]), ints(ns, [1, 2, 3])],
    "int_tensors_around_slice": lambda ns, x: x[ints(ns, [0, 1]), :, ints(ns, [5, 2])],
    "arange_gather_like_cross_entropy": lambda ns, x: x[0][ns.torch.arange(5), ints(ns, [1, 0, 5, 2, 2])],
    "zero_d_int_tensor": lambda ns, x: x[ints(ns, 2)],
    "zero_d_int_tensor_in_slice_bound": lambda ns, x: x[ints(ns, 1) : ints(ns, 1) + 2],
    "randint_drawn_slice_bound": lambda ns, x: x.flatten()[ints(ns, 7) : ints(ns, 7) + 8],
    "bool_mask_full": lambda ns, x: x[x > 0.5],
    "bool_mask_rows": lambda ns, x: x[x.sum((1, 2)) > 0],
    "bool_mask_2d_prefix": lambda ns, x: x[x[:, :, 0] > 0],
    "bool_mask_after_slice": lambda ns, x: x[:, x[0, :, 0] > 0],
    "bool_list": lambda ns, x: x[ns.torch.tensor([True, False, True, False])],
    "mask_all_false": lambda ns, x: x[x > 100],
    "index_then_index": lambda ns, x: x[1:][ints(ns, [0, 0])][:, 2],
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(KEYS))
@given(seed=seeds)
def test_getitem_matches_pytorch(name, dtype, seed):
    check(KEYS[name], random_array(np.random.default_rng(seed), (4, 5, 6), dtype), seed=seed)


def assign(key_fn, value_fn):
    def write(ns, x):
        y = x.detach().clone()
        y[key_fn(ns, y)] = value_fn(ns, y)
        return y

    return write


ASSIGNMENTS = {
    "int_scalar": assign(lambda ns, y: 1, lambda ns, y: 7.0),
    "slice_scalar": assign(lambda ns, y: (slice(None), slice(1, 3)), lambda ns, y: -1.0),
    "slice_tensor_broadcast": assign(lambda ns, y: (slice(None), 0), lambda ns, y: ns.torch.ones(6)),
    "int_tensor": assign(lambda ns, y: ns.torch.tensor([0, 2]), lambda ns, y: 0.5),
    "bool_mask": assign(lambda ns, y: y > 0, lambda ns, y: 0.0),
    "ellipsis": assign(lambda ns, y: (Ellipsis, -1), lambda ns, y: y[..., 0] * 2),
    "zero_d_int_tensor": assign(lambda ns, y: ns.torch.tensor(3), lambda ns, y: 1.0),
}


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_setitem_matches_pytorch(name):
    check(ASSIGNMENTS[name], random_array(np.random.default_rng(1), (4, 5, 6)), grad=False)


INDEX_ERRORS = {
    "int_out_of_range": lambda ns, x: x[4],
    "negative_out_of_range": lambda ns, x: x[-5],
    "int_tensor_out_of_range": lambda ns, x: x[ns.torch.tensor([0, 9])],
    "second_dim_out_of_range": lambda ns, x: x[:, 5],
    "too_many_indices": lambda ns, x: x[0, 0, 0, 0],
    "float_tensor_index": lambda ns, x: x[ns.torch.tensor([0.0])],
    "bool_mask_wrong_shape": lambda ns, x: x[ns.torch.tensor([True, False])],
    "setitem_into_leaf_requiring_grad": lambda ns, x: x.__setitem__(0, 1.0),
}


@pytest.mark.parametrize("name", sorted(INDEX_ERRORS))
def test_bad_index_raises_as_pytorch(name):
    check_raises(INDEX_ERRORS[name], random_array(np.random.default_rng(0), (4, 5, 6)))
