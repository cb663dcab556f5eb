"""Reductions (with dim/keepdim), shape and movement ops, joins and splits, against PyTorch."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conformance.oracle import check, check_raises, random_array

DTYPES = ["float64", "float32"]
seeds = st.integers(0, 2**32 - 1)
SHAPE = (2, 3, 4)

# name -> function of (ns, x) for x of shape (2, 3, 4) with distinct elements (no ties for max/min/topk)
CASES = {
    "sum_all": lambda ns, x: x.sum(),
    "sum_dim": lambda ns, x: x.sum(1),
    "sum_dim_keepdim": lambda ns, x: x.sum(-1, keepdim=True),
    "sum_dims_tuple": lambda ns, x: x.sum((0, 2)),
    "torch_sum": lambda ns, x: ns.torch.sum(x, dim=0),
    "mean_all": lambda ns, x: x.mean(),
    "mean_dim": lambda ns, x: x.mean(0),
    "mean_dims_keepdim": lambda ns, x: x.mean((1, 2), keepdim=True),
    "torch_mean": lambda ns, x: ns.torch.mean(x, 1, keepdim=True),
    "var_all": lambda ns, x: x.var(),
    "var_dim": lambda ns, x: x.var(1),
    "var_keepdim_biased": lambda ns, x: x.var(-1, keepdim=True, unbiased=False),
    "var_correction_0": lambda ns, x: x.var(2, correction=0),
    "torch_var": lambda ns, x: ns.torch.var(x, 0),
    "std_all": lambda ns, x: x.std(),
    "std_dim": lambda ns, x: x.std(2),
    "std_keepdim": lambda ns, x: x.std(1, keepdim=True),
    "torch_std": lambda ns, x: ns.torch.std(x, 0),
    "norm_all": lambda ns, x: x.norm(),
    "norm_dim": lambda ns, x: x.norm(dim=1),
    "norm_p1": lambda ns, x: x.norm(p=1),
    "norm_p3_dim_keepdim": lambda ns, x: x.norm(3, dim=-1, keepdim=True),
    "torch_norm": lambda ns, x: ns.torch.norm(x),
    "max_all": lambda ns, x: x.max(),
    "max_dim_values_indices": lambda ns, x: tuple(x.max(1)),
    "max_dim_named_fields": lambda ns, x: (x.max(dim=2).values, x.max(dim=2).indices),
    "max_keepdim": lambda ns, x: tuple(x.max(0, keepdim=True)),
    "min_all": lambda ns, x: x.min(),
    "min_dim": lambda ns, x: tuple(x.min(-1)),
    "torch_max_dim": lambda ns, x: tuple(ns.torch.max(x, 1)),
    "torch_min_all": lambda ns, x: ns.torch.min(x),
    "amax": lambda ns, x: x.amax(1),
    "amin_keepdim": lambda ns, x: x.amin(-1, keepdim=True),
    "argmax_all": lambda ns, x: x.argmax(),
    "argmax_dim": lambda ns, x: x.argmax(1),
    "argmax_keepdim": lambda ns, x: x.argmax(-1, keepdim=True),
    "torch_argmax": lambda ns, x: ns.torch.argmax(x, dim=2),
    "argmin_dim": lambda ns, x: x.argmin(0),
    "all_dim": lambda ns, x: (x > -1).all(1),
    "any_all": lambda ns, x: (x > 1.9).any(),
    "torch_all": lambda ns, x: ns.torch.all(x > 0),
    "torch_any_dim": lambda ns, x: ns.torch.any(x > 0, dim=0),
    "softmax_dim1": lambda ns, x: x.softmax(1),
    "log_softmax_dim0": lambda ns, x: x.log_softmax(0),
    "reshape": lambda ns, x: x.reshape(4, 6),
    "reshape_tuple_minus_one": lambda ns, x: x.reshape((-1, 2)),
    "torch_reshape": lambda ns, x: ns.torch.reshape(x, (3, 8)),
    "view": lambda ns, x: x.view(6, 4),
    "view_minus_one": lambda ns, x: x.view(-1),
    "transpose": lambda ns, x: x.transpose(0, 2),
    "transpose_negative": lambda ns, x: x.transpose(-2, -1),
    "torch_transpose": lambda ns, x: ns.torch.transpose(x, 0, 1),
    "permute": lambda ns, x: x.permute(2, 0, 1),
    "permute_tuple": lambda ns, x: x.permute((1, 2, 0)),
    "torch_permute": lambda ns, x: ns.torch.permute(x, (2, 1, 0)),
    "T_of_matrix": lambda ns, x: x[0].T,
    "unsqueeze_0": lambda ns, x: x.unsqueeze(0),
    "unsqueeze_last": lambda ns, x: x.unsqueeze(-1),
    "torch_unsqueeze": lambda ns, x: ns.torch.unsqueeze(x, 1),
    "squeeze_all": lambda ns, x: x[:, :1].squeeze(),
    "squeeze_dim": lambda ns, x: x[:, :1].squeeze(1),
    "squeeze_dim_not_one": lambda ns, x: x.squeeze(0),
    "torch_squeeze": lambda ns, x: ns.torch.squeeze(x[:1]),
    "flatten": lambda ns, x: x.flatten(),
    "flatten_start": lambda ns, x: x.flatten(1),
    "flatten_range": lambda ns, x: x.flatten(0, 1),
    "torch_flatten": lambda ns, x: ns.torch.flatten(x, 1),
    "expand": lambda ns, x: x[:, :1].expand(2, 5, 4),
    "expand_minus_one": lambda ns, x: x[:1].expand(3, -1, -1),
    "expand_new_dim": lambda ns, x: x.expand(2, 2, 3, 4),
    "contiguous_of_transpose": lambda ns, x: x.transpose(0, 1).contiguous(),
    "cat_dim0": lambda ns, x: ns.torch.cat([x, x * 2], dim=0),
    "cat_dim_last": lambda ns, x: ns.torch.cat((x, x[..., :1]), dim=-1),
    "concat": lambda ns, x: ns.torch.concat([x, x], 1),
    "stack": lambda ns, x: ns.torch.stack([x, x.exp()]),
    "stack_dim_last": lambda ns, x: ns.torch.stack([x, x], dim=-1),
    "tril": lambda ns, x: ns.torch.tril(x),
    "tril_diagonal": lambda ns, x: ns.torch.tril(x, diagonal=1),
    "triu": lambda ns, x: ns.torch.triu(x),
    "triu_diagonal": lambda ns, x: ns.torch.triu(x, -1),
    "matmul_batched": lambda ns, x: x @ x.transpose(-2, -1),
    "matmul_broadcast": lambda ns, x: x @ x[0].T[:, :2],
    "matmul_vector": lambda ns, x: x @ x[0, 0],
    "vector_matmul": lambda ns, x: x[0, :, 0] @ x[0],
    "torch_matmul": lambda ns, x: ns.torch.matmul(x, x[1].T),
    "matmul_method": lambda ns, x: x.matmul(x.transpose(1, 2)),
    "split_size": lambda ns, x: x.split(2, dim=2),
    "split_sections": lambda ns, x: x.split([1, 2], 1),
    "split_uneven": lambda ns, x: x.split(3, -1),
    "torch_split": lambda ns, x: ns.torch.split(x, 1),
    "chunk": lambda ns, x: x.chunk(2, dim=-1),
    "chunk_uneven": lambda ns, x: x.chunk(2, 1),
    "chunk_more_than_size": lambda ns, x: x.chunk(5, 0),
    "torch_chunk": lambda ns, x: ns.torch.chunk(x, 3, 2),
    "topk": lambda ns, x: tuple(x.topk(2)),
    "topk_dim": lambda ns, x: tuple(x.topk(2, dim=1)),
    "topk_smallest": lambda ns, x: tuple(x.topk(3, largest=False)),
    "topk_all": lambda ns, x: tuple(x.topk(4, dim=-1)),
    "topk_named_fields": lambda ns, x: (x.topk(1).values, x.topk(1).indices),
    "torch_topk": lambda ns, x: tuple(ns.torch.topk(x, 2, dim=0)),
    "topk_unsorted_as_sets": lambda ns, x: x.topk(2, sorted=False).values.sum(-1),
    "iterate_rows": lambda ns, x: [row * 2 for row in x],
    "len": lambda ns, x: len(x),
    "item": lambda ns, x: x[0, 0, 0].item(),
    "float_of_0d": lambda ns, x: float(x[0, 0, 0]),
    "int_of_0d_int": lambda ns, x: int(x.argmax()),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
@given(seed=seeds)
def test_reduction_or_shape_op_matches_pytorch(name, dtype, seed):
    check(CASES[name], random_array(np.random.default_rng(seed), SHAPE, dtype, distinct=True), seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@given(seed=seeds, rows=st.integers(0, 3), cols=st.integers(1, 4), dim=st.sampled_from([0, 1, -1]))
def test_sum_mean_over_drawn_dims_of_possibly_empty_tensors_match_pytorch(dtype, seed, rows, cols, dim):
    x = random_array(np.random.default_rng(seed), (rows, cols), dtype)
    check(lambda ns, t: (t.sum(dim), t.sum(dim, keepdim=True), t.sum()), x, seed=seed)


ERRORS = {
    "reshape_wrong_numel": lambda ns, x: x.reshape(5, 5),
    "view_wrong_numel": lambda ns, x: x.view(7),
    "permute_not_a_permutation": lambda ns, x: x.permute(0, 0, 1),
    "matmul_inner_mismatch": lambda ns, x: x @ x,
    "cat_shape_mismatch": lambda ns, x: ns.torch.cat([x, x[:, :2, :3]], 0),
    "stack_shape_mismatch": lambda ns, x: ns.torch.stack([x, x[:1]]),
    "item_of_many": lambda ns, x: x.item(),
    "bool_of_many": lambda ns, x: bool(x),
    "split_sizes_wrong_sum": lambda ns, x: x.split([1, 1], 1),
    "chunk_zero": lambda ns, x: x.chunk(0),
    "topk_k_too_large": lambda ns, x: x.topk(5),
    "topk_of_bool": lambda ns, x: (x > 0).topk(1),
    "len_of_0d": lambda ns, x: len(x.sum()),
    "index_of_float_tensor": lambda ns, x: [1, 2, 3][x[0, 0, 0]],
    "index_of_many_int": lambda ns, x: [1, 2, 3][x.argmax(-1)],
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_bad_input_raises_as_pytorch(name):
    check_raises(ERRORS[name], random_array(np.random.default_rng(0), SHAPE))


MORE = {
    "unbind": lambda ns, x: x.unbind(1),
    "torch_unbind": lambda ns, x: ns.torch.unbind(x, -1),
    "is_floating_point": lambda ns, x: (x.is_floating_point(), x.long().is_floating_point()),
    "view_as": lambda ns, x: x.view_as(x[0].flatten()[None].expand(2, 12).contiguous()),
    "expand_as": lambda ns, x: x[:, :1].expand_as(x),
    "type_as": lambda ns, x: x.detach().type_as(x.long()),
    "torch_pow_scalar": lambda ns, x: ns.torch.pow(x, 2),
    "torch_pow_tensor": lambda ns, x: ns.torch.pow(x.abs() + 0.5, x),
    "torch_argmin": lambda ns, x: ns.torch.argmin(x, dim=1),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(MORE))
@given(seed=seeds)
def test_small_methods_found_missing_match_pytorch(name, dtype, seed):
    check(MORE[name], random_array(np.random.default_rng(seed), SHAPE, dtype, distinct=True), seed=seed)
