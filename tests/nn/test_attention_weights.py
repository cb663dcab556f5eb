"""MultiHeadAttention.attention_weights: the weights forward averages the values with, for plots."""

import numpy as np
import pytest

import nn
import tensor


@tensor.no_grad()
@pytest.mark.parametrize("masking", ["causal", "bool mask", "float mask", "none"])
def test_forward_is_the_attention_weights_applied_to_the_values(masking):
    B, T, C, heads = 2, 5, 8, 2
    attention = nn.MultiHeadAttention(C, heads)
    x = tensor.randn(B, T, C)
    kwargs = {
        "causal": {"is_causal": True},
        "bool mask": {"attn_mask": nn.prefix_lm_mask(T, 2)},
        "float mask": {"attn_mask": tensor.randn(T, T)},
        "none": {},
    }[masking]
    weights = attention.attention_weights(x, **kwargs)  # (B, heads, T, T)
    assert weights.shape == (B, heads, T, T)
    np.testing.assert_allclose(weights.sum(-1).numpy(), np.ones((B, heads, T)), rtol=1e-5)
    values = attention.value(x).reshape(B, T, heads, C // heads).transpose(1, 2)  # (B, heads, T, hs)
    merged = (weights @ values).transpose(1, 2).reshape(B, T, C)
    np.testing.assert_allclose(attention.proj(merged).numpy(), attention(x, **kwargs).numpy(), rtol=1e-4, atol=1e-6)


@tensor.no_grad()
def test_causal_weights_are_zero_above_the_diagonal():
    weights = nn.MultiHeadAttention(4, 2).attention_weights(tensor.randn(1, 4, 4), is_causal=True).numpy()
    assert (weights[..., np.triu_indices(4, 1)[0], np.triu_indices(4, 1)[1]] == 0).all()
    assert (weights[..., np.tril_indices(4)[0], np.tril_indices(4)[1]] > 0).all()
