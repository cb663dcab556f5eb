"""Every fused op and layer of nn/: gradients against finite differences (float64, Hypothesis shapes)."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nn
import nn.functional as F
import tensor
from tests.helpers import gradient_test, shapes_strategy

at_least_2d = shapes_strategy(1, min_dims=2, min_side=1)
rows_of_classes = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=5).map(lambda s: [s])


def reseeded(op):
    """Finite differences call op many times; reseeding makes every call draw the same dropout mask."""

    def run(*args, **kwargs):
        tensor.manual_seed(1234)
        return op(*args, **kwargs)

    return run


test_linear = gradient_test(
    lambda x, w, b: F.linear(x, w, b),
    n_inputs=3,
    shapes=st.tuples(st.integers(1, 4), st.integers(1, 4), hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)).map(
        lambda t: [t[2] + (t[0],), (t[1], t[0]), (t[1],)]
    ),
)
test_softmax = gradient_test(
    lambda x, dim: F.softmax(x, dim),
    shapes=at_least_2d,
    params=lambda s: st.fixed_dictionaries({"dim": st.integers(-len(s[0]), len(s[0]) - 1)}),
)
test_log_softmax = gradient_test(lambda x: F.log_softmax(x, -1), shapes=at_least_2d)


def _cross_entropy_params(shapes):
    n, classes = shapes[0]
    targets = hnp.arrays(np.int64, (n,), elements=st.one_of(st.integers(0, classes - 1), st.just(-100)))
    return st.fixed_dictionaries(
        {
            "target": targets.map(tensor.tensor),
            "reduction": st.sampled_from(["mean", "sum", "none"]),
            "label_smoothing": st.sampled_from([0.0, 0.1]),
        }
    ).filter(lambda p: p["reduction"] != "mean" or bool((p["target"]._array != -100).any()))


test_cross_entropy = gradient_test(
    lambda x, **kw: F.cross_entropy(x, **kw), shapes=rows_of_classes, params=_cross_entropy_params
)
test_layer_norm_affine = gradient_test(
    lambda x, w, b: F.layer_norm(x, x.shape[-1:], w, b),
    n_inputs=3,
    shapes=hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4).map(lambda s: [s, s[-1:], s[-1:]]),
    domain=["grid", "real", "real"],
)
test_layer_norm_over_two_dims_without_affine = gradient_test(
    lambda x: F.layer_norm(x, x.shape[-2:]), shapes=shapes_strategy(1, min_dims=2, min_side=2), domain="grid"
)
test_gelu_exact = gradient_test(lambda x: F.gelu(x))
test_gelu_tanh = gradient_test(lambda x: F.gelu(x, approximate="tanh"))
test_dropout = gradient_test(reseeded(lambda x: F.dropout(x, 0.3, training=True)))
test_embedding_weight = gradient_test(
    lambda w: F.embedding(tensor.tensor([[0, 2, 0], [1, 0, 0]]) % w.shape[0], w),
    shapes=hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=4).map(lambda s: [s]),
)


@st.composite
def attention_shapes(draw):
    batch = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=2))
    tq, tk, d, dv = (draw(st.integers(1, 4)) for _ in range(4))
    return [batch + (tq, d), batch + (tk, d), batch + (tk, dv)]


def _attention_mask_params(shapes):
    tq, tk = shapes[0][-2], shapes[1][-2]
    bool_mask = hnp.arrays(bool, (tq, tk)).map(lambda m: {"attn_mask": tensor.tensor(m)})
    float_mask = hnp.arrays(np.float64, (tq, tk), elements=st.floats(-2, 2)).map(
        lambda m: {"attn_mask": tensor.tensor(m)}
    )
    options = [st.just({}), bool_mask, float_mask]
    if tq == tk:
        options.append(st.just({"is_causal": True}))
    return st.one_of(options)


test_scaled_dot_product_attention = gradient_test(
    lambda q, k, v, **kw: F.scaled_dot_product_attention(q, k, v, **kw),
    n_inputs=3,
    shapes=attention_shapes(),
    params=_attention_mask_params,
)
test_scaled_dot_product_attention_with_dropout = gradient_test(
    reseeded(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, dropout_p=0.4, is_causal=True)),
    n_inputs=3,
    shapes=st.integers(1, 4).flatmap(lambda t: attention_shapes().map(lambda s: [x[:-2] + (t,) + x[-1:] for x in s])),
)


def _module_test(make, input_shape):
    """Gradient of a layer with respect to its input and every parameter (directional check)."""

    def test(device):
        layer = make().double().to(device)
        x = tensor.randn(*input_shape, dtype=tensor.float64, device=device, requires_grad=True)
        params = list(layer.parameters())
        # the layer's own Parameters are the inputs: gradcheck perturbs them in place
        assert tensor.gradcheck_directional(lambda x, *ps: reseeded(layer)(x), [x, *params])
        assert tensor.gradcheck(lambda x, *ps: reseeded(layer)(x), [x, *params])

    return test


test_linear_layer = _module_test(lambda: nn.Linear(3, 4), (2, 3))
test_layer_norm_layer = _module_test(lambda: nn.LayerNorm(4), (2, 3, 4))
test_multi_head_self_attention_layer = _module_test(lambda: nn.MultiHeadAttention(4, 2, dropout=0.2), (2, 3, 4))
test_sequential_mlp = _module_test(
    lambda: nn.Sequential(nn.Linear(3, 5), nn.GELU(), nn.Linear(5, 2), nn.Tanh()), (4, 3)
)
