"""Each fused op in nn.functional gives the values and gradients of its composition in nn.composed."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nn.composed as C
import nn.functional as F
import tensor


def values_and_grads(op, arrays, device):
    inputs = [tensor.tensor(a, dtype=tensor.float64, device=device, requires_grad=True) for a in arrays]
    out = op(*inputs)
    upstream = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(tensor.tensor(upstream, dtype=tensor.float64, device=device))
    return out.detach().cpu().numpy(), [x.grad.cpu().numpy() for x in inputs]


def assert_same(fused, composed, arrays, device):
    fused_out, fused_grads = values_and_grads(fused, arrays, device)
    composed_out, composed_grads = values_and_grads(composed, arrays, device)
    np.testing.assert_allclose(fused_out, composed_out, rtol=1e-10, atol=1e-12)
    for a, b in zip(fused_grads, composed_grads):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


matrices = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=5), elements=st.floats(-5, 5)
)


@given(x=matrices)
def test_softmax(device, x):
    assert_same(lambda t: F.softmax(t, -1), lambda t: C.softmax(t, -1), [x], device)


@given(x=matrices)
def test_log_softmax(device, x):
    assert_same(lambda t: F.log_softmax(t, 1), lambda t: C.log_softmax(t, 1), [x], device)


@given(x=matrices, data=st.data())
def test_layer_norm(device, x, data):
    features = x.shape[-1]
    w = data.draw(hnp.arrays(np.float64, (features,), elements=st.floats(-2, 2)))
    b = data.draw(hnp.arrays(np.float64, (features,), elements=st.floats(-2, 2)))
    x = x + np.arange(features)  # rows are never constant
    assert_same(
        lambda t, w, b: F.layer_norm(t, (features,), w, b),
        lambda t, w, b: C.layer_norm(t, (features,), w, b),
        [x, w, b],
        device,
    )


@given(
    logits=hnp.arrays(
        np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6), elements=st.floats(-5, 5)
    ),
    data=st.data(),
)
def test_cross_entropy(device, logits, data):
    n, classes = logits.shape
    targets = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, classes - 1)))
    targets[0] = -100 if n > 1 else targets[0]
    t = tensor.tensor(targets, device=device)
    assert_same(lambda x: F.cross_entropy(x, t), lambda x: C.cross_entropy(x, t), [logits], device)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@given(x=matrices)
def test_gelu(device, approximate, x):
    assert_same(lambda t: F.gelu(t, approximate), lambda t: C.gelu(t, approximate), [x], device)


@pytest.mark.parametrize("mask_kind", ["none", "causal", "bool", "float"])
@given(data=st.data())
def test_scaled_dot_product_attention(device, mask_kind, data):
    t, d = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 4))
    q, k, v = (data.draw(hnp.arrays(np.float64, (2, t, d), elements=st.floats(-3, 3))) for _ in range(3))
    kwargs = {}
    if mask_kind == "causal":
        kwargs = {"is_causal": True}
    elif mask_kind == "bool":
        mask = data.draw(hnp.arrays(bool, (t, t)))
        mask[:, 0] = True  # every row attends somewhere (fully masked rows are tested separately)
        kwargs = {"attn_mask": tensor.tensor(mask, device=device)}
    elif mask_kind == "float":
        kwargs = {
            "attn_mask": tensor.tensor(
                data.draw(hnp.arrays(np.float64, (t, t), elements=st.floats(-3, 3))), device=device
            )
        }
    assert_same(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kwargs),
        lambda q, k, v: C.scaled_dot_product_attention(q, k, v, **kwargs),
        [q, k, v],
        device,
    )
