"""Every differentiable op of tensor/, declared once: its gradient equals central finite
differences (float64) on Hypothesis-drawn shapes, broadcasting included."""

from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tensor
from tests.helpers import gradient_test, reduction_params, shapes_strategy

# ----- elementwise, broadcasting ----------------------------------------------------------------

test_add = gradient_test(lambda a, b: a + b, n_inputs=2)
test_sub = gradient_test(lambda a, b: a - b, n_inputs=2)
test_mul = gradient_test(lambda a, b: a * b, n_inputs=2)
test_div = gradient_test(lambda a, b: a / b, n_inputs=2, domain=["real", "nonzero"])
test_neg = gradient_test(lambda a: -a)
test_scalar_arithmetic = gradient_test(lambda a: (2.5 - a) * 3 / 1.5 + 1 - 0.5 / (a * a + 1))
test_pow_tensor_exponent = gradient_test(lambda a, b: a**b, n_inputs=2, domain=["positive", "real"])
test_pow_scalar_exponent = gradient_test(
    lambda a, p: a**p,
    domain="positive",
    params=lambda s: st.fixed_dictionaries({"p": st.sampled_from([-1.5, -1, 0.5, 2, 3.0])}),
)
test_pow_integer_exponent_on_negative_base = gradient_test(lambda a: a**3 + a**2)
test_rpow = gradient_test(lambda a: 2.0**a)
test_exp = gradient_test(lambda a: a.exp())
test_scalar_divided_by_a_tensor = gradient_test(lambda a: 3.0 / a + a.reciprocal(), domain="positive")
test_log = gradient_test(lambda a: a.log(), domain="positive")
test_sqrt = gradient_test(lambda a: a.sqrt(), domain="positive")
test_tanh = gradient_test(lambda a: a.tanh())
test_sigmoid = gradient_test(lambda a: a.sigmoid())
test_relu = gradient_test(lambda a: a.relu(), domain="grid")
test_abs = gradient_test(lambda a: a.abs(), domain="grid")
test_maximum = gradient_test(tensor.maximum, n_inputs=2, domain=["grid", "offgrid"])
test_minimum = gradient_test(tensor.minimum, n_inputs=2, domain=["grid", "offgrid"])
test_clone = gradient_test(lambda a: a.clone() * a)


def _where_condition(shapes):
    return hnp.arrays(bool, shapes[0]).map(lambda m: {"mask": tensor.tensor(m)})


test_where = gradient_test(
    lambda a, b, mask: tensor.where(mask, a, b),
    n_inputs=2,
    shapes=shapes_strategy(3).map(lambda s: [s[1], s[2], s[0]]),
    params=lambda s: hnp.arrays(bool, s[2]).map(lambda m: {"mask": tensor.tensor(m)}),
)


def _masked_fill_params(shapes):
    mask_shape = hnp.broadcastable_shapes(shapes[0], min_side=0)
    return mask_shape.flatmap(lambda ms: hnp.arrays(bool, ms)).map(lambda m: {"mask": tensor.tensor(m), "value": -7.0})


test_masked_fill = gradient_test(lambda a, mask, value: a.masked_fill(mask, value) * a, params=_masked_fill_params)

# ----- reductions --------------------------------------------------------------------------------

nonempty = shapes_strategy(1, min_side=1)
test_sum = gradient_test(lambda a, dim, keepdim: a.sum(dim, keepdim), params=reduction_params)
test_mean = gradient_test(lambda a, dim, keepdim: a.mean(dim, keepdim), shapes=nonempty, params=reduction_params)
test_amax = gradient_test(
    lambda a, dim, keepdim: a.amax(dim, keepdim), domain="grid", shapes=nonempty, params=reduction_params
)
test_amin = gradient_test(
    lambda a, dim, keepdim: a.amin(dim, keepdim), domain="grid", shapes=nonempty, params=reduction_params
)
test_max_over_dim_values = gradient_test(
    lambda a, dim, keepdim: a.max(dim, keepdim).values if dim is not None else a.max(),
    domain="grid",
    shapes=nonempty,
    params=lambda s: reduction_params(s, allow_tuple=False),
)
test_min_over_dim_values = gradient_test(
    lambda a, dim, keepdim: a.min(dim, keepdim).values if dim is not None else a.min(),
    domain="grid",
    shapes=nonempty,
    params=lambda s: reduction_params(s, allow_tuple=False),
)
at_least_two = shapes_strategy(1, min_side=2, min_dims=1)
test_var = gradient_test(lambda a, dim, keepdim: a.var(dim, keepdim), shapes=at_least_two, params=reduction_params)
test_var_biased = gradient_test(lambda a: a.var(-1, correction=0), shapes=at_least_two)
test_std = gradient_test(
    lambda a, dim, keepdim: a.std(dim, keepdim), domain="grid", shapes=at_least_two, params=reduction_params
)
test_norm = gradient_test(lambda a: a.norm(), domain="nonzero", shapes=nonempty)
test_softmax_composite = gradient_test(lambda a: a.softmax(-1), shapes=at_least_two)
test_log_softmax_composite = gradient_test(lambda a: a.log_softmax(0), shapes=at_least_two)

# ----- shape and movement ----------------------------------------------------------------------

test_reshape = gradient_test(lambda a: a.reshape(-1) * a.reshape(-1).sum())
test_view_and_flatten = gradient_test(lambda a: a.view(a.numel()) + a.flatten())
test_transpose = gradient_test(lambda a: a.transpose(0, -1) if a.ndim else a, shapes=shapes_strategy(1, min_dims=1))
test_permute = gradient_test(
    lambda a, dims: a.permute(dims),
    shapes=shapes_strategy(1, min_dims=1),
    params=lambda s: st.permutations(range(len(s[0]))).map(lambda p: {"dims": tuple(p)}),
)
test_unsqueeze_squeeze = gradient_test(lambda a: a.unsqueeze(0).unsqueeze(-1).squeeze() * 2)


def _expand_params(shapes):
    shape = shapes[0]
    sizes = st.tuples(*[st.integers(1, 3) if n == 1 else st.just(n) for n in shape])
    return st.tuples(st.lists(st.integers(1, 3), max_size=2), sizes).map(lambda t: {"size": tuple(t[0]) + t[1]})


test_expand = gradient_test(lambda a, size: a.expand(*size), params=_expand_params)


def _basic_index_params(shapes):
    return hnp.basic_indices(shapes[0], allow_newaxis=True, allow_ellipsis=True).map(lambda k: {"key": k})


test_basic_indexing = gradient_test(
    lambda a, key: a[key], shapes=shapes_strategy(1, min_dims=1), params=_basic_index_params
)


def _integer_array_params(shapes):
    # integer_array_indices repeats indices freely, so gathered rows are reused
    return hnp.integer_array_indices(shapes[0], result_shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=5)).map(
        lambda k: {"key": tuple(tensor.tensor(i) for i in k)}
    )


test_integer_array_gather = gradient_test(
    lambda a, key: a[key], shapes=shapes_strategy(1, min_dims=1, min_side=1), params=_integer_array_params
)
test_gather_rows_with_repeats = gradient_test(
    lambda a: a[tensor.tensor([0, 0, -1, 0])], shapes=shapes_strategy(1, min_dims=1, min_side=1)
)


def _cat_shapes(n):
    def build(base_and_dim):
        base, dim, sizes = base_and_dim
        return [base[:dim] + (size,) + base[dim + 1 :] for size in sizes]

    return (
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)
        .flatmap(
            lambda base: st.tuples(
                st.just(base), st.integers(0, len(base) - 1), st.lists(st.integers(0, 3), min_size=n, max_size=n)
            )
        )
        .map(build)
    )


def _cat_dim(shapes):
    differing = [i for i in range(len(shapes[0])) if len({s[i] for s in shapes}) > 1]
    return st.just({"dim": differing[0]}) if differing else st.integers(0, len(shapes[0]) - 1).map(lambda d: {"dim": d})


test_cat = gradient_test(
    lambda a, b, c, dim: tensor.cat([a, b, c], dim=dim), n_inputs=3, shapes=_cat_shapes(3), params=_cat_dim
)
test_stack = gradient_test(
    lambda a, b, dim: tensor.stack([a, b], dim=dim),
    n_inputs=2,
    shapes=hnp.array_shapes(min_dims=0, max_dims=3, max_side=3).map(lambda s: [s, s]),
    params=lambda s: st.integers(-len(s[0]) - 1, len(s[0])).map(lambda d: {"dim": d}),
)
test_tril = gradient_test(lambda a: tensor.tril(a), shapes=shapes_strategy(1, min_dims=2))
test_triu = gradient_test(lambda a: tensor.triu(a, 1), shapes=shapes_strategy(1, min_dims=2))

# ----- matmul: vectors, matrices, broadcast batches ---------------------------------------------


@st.composite
def matmul_shapes(draw):
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3)).input_shapes
    a = draw(st.sampled_from([(k,), batch_a + (n, k)]))
    b = draw(st.sampled_from([(k,), batch_b + (k, m)]))
    return [a, b]


test_matmul = gradient_test(lambda a, b: a @ b, n_inputs=2, shapes=matmul_shapes())
test_sin = gradient_test(lambda a: a.sin())
test_cos = gradient_test(lambda a: a.cos())
