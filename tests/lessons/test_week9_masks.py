"""Week 9: masks. Which positions may each position see under causal, bidirectional, padding and
prefix-LM masks, and what changes with cross-attention?

"Sees" is measured, not assumed: the output at query i depends on the value at key j
exactly when the gradient d out[i] / d v[j] is non-zero.
"""

import numpy as np
import pytest

import nn
import nn.functional as F
import tensor

T = 6


def dependence(mask):
    """dependence[i, j]: does attention output i change with value j? (via the gradient)"""
    q, k = tensor.randn(1, T, 4), tensor.randn(1, T, 4)
    rows = []
    for i in range(T):
        v = tensor.randn(1, T, 4, requires_grad=True)
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask)[:, i].sum().backward()
        rows.append(np.abs(v.grad.numpy()[0]).sum(axis=-1) > 0)
    return np.array(rows)


def test_causal_mask_lets_position_i_see_positions_up_to_i():
    mask = nn.causal_mask(T)
    assert (mask.numpy() == np.tril(np.ones((T, T), dtype=bool))).all()
    assert (dependence(mask) == mask.numpy()).all()


def test_bidirectional_mask_lets_every_position_see_every_position():
    assert dependence(nn.bidirectional_mask(T)).all()


def test_padding_mask_hides_padded_keys_from_every_query():
    mask = nn.padding_mask([4, 6], T)  # (2, 1, 1, T)
    assert mask.shape == (2, 1, 1, T)
    assert mask.numpy()[0, 0, 0].tolist() == [True] * 4 + [False] * 2 and mask.numpy()[1].all()
    seen = dependence(mask[0, 0])  # the first sequence: keys 4 and 5 are padding
    assert seen[:, :4].all() and not seen[:, 4:].any()


@pytest.mark.parametrize("prefix", [1, 3, 6])
def test_prefix_lm_mask_is_bidirectional_in_the_prefix_and_causal_after(prefix):
    mask = nn.prefix_lm_mask(T, prefix)
    expected = np.array([[j <= i or j < prefix for j in range(T)] for i in range(T)])
    assert (mask.numpy() == expected).all()
    assert (dependence(mask) == expected).all()


def test_cross_attention_attends_over_a_second_sequence():
    attention = nn.MultiHeadAttention(8, 2)
    x = tensor.randn(1, 3, 8, requires_grad=True)  # 3 queries
    context = tensor.randn(1, 5, 8, requires_grad=True)  # 5 keys/values from another sequence
    out = attention(x, context=context)
    assert out.shape == (1, 3, 8)
    out[:, 0].sum().backward()
    assert (np.abs(context.grad.numpy()[0]).sum(-1) > 0).all()  # query 0 sees every context position
    assert (x.grad.numpy()[0, 1:] == 0).all()  # and no other query
