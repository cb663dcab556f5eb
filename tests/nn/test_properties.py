"""Invariants of the layers and functional ops, as properties over Hypothesis-drawn inputs."""

import math

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nn
import nn.functional as F
import tensor

rows = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=2, max_dims=3, min_side=2, max_side=6), elements=st.floats(-100, 100)
)


@given(x=rows)
def test_layer_norm_output_has_zero_mean_unit_variance_over_features(device, x):
    x[..., 0] = x[..., -1] + 1  # no row is constant: a constant row has no spread to normalize
    y = nn.LayerNorm(x.shape[-1], eps=0.0, elementwise_affine=False)(tensor.tensor(x, device=device)).cpu().numpy()
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-9)
    np.testing.assert_allclose(y.var(axis=-1), 1, atol=1e-6)


extreme_logits = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8), elements=st.floats(-1e4, 1e4)
)


@given(x=extreme_logits)
def test_softmax_rows_are_probabilities_even_for_extreme_logits(device, x):
    p = F.softmax(tensor.tensor(x, device=device), -1).cpu().numpy()
    assert np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()
    np.testing.assert_allclose(p.sum(axis=-1), 1, rtol=1e-12)


@given(x=extreme_logits)
def test_log_softmax_equals_log_of_softmax_where_finite(device, x):
    t = tensor.tensor(x, device=device)
    log_p = F.log_softmax(t, -1).cpu().numpy()
    p = F.softmax(t, -1).cpu().numpy()
    with np.errstate(divide="ignore"):
        log_of_p = np.log(p)
    finite = p > np.finfo(np.float64).tiny  # log of a subnormal p has lost its precision; of 0, is -inf
    assert np.isfinite(log_p).all()
    np.testing.assert_allclose(log_p[finite], log_of_p[finite], rtol=1e-9, atol=1e-9)


def test_fused_ops_stay_finite_at_logit_magnitude_1e4(device):
    x = tensor.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], device=device, requires_grad=True)
    loss = F.cross_entropy(x, tensor.tensor([1, 2], device=device))
    loss.backward()
    assert math.isfinite(loss.item()) and loss.item() > 1e3  # the first row's target has log-probability -2e4
    assert np.isfinite(x.grad.cpu().numpy()).all()


@given(x=extreme_logits.filter(lambda a: a.shape[1] > 1), data=st.data())
def test_cross_entropy_is_mean_negative_log_probability_of_target_ignoring_ignore_index(device, x, data):
    n, classes = x.shape
    targets = data.draw(hnp.arrays(np.int64, (n,), elements=st.sampled_from(list(range(classes)) + [-100])))
    assume((targets != -100).any())
    loss = F.cross_entropy(tensor.tensor(x, device=device), tensor.tensor(targets, device=device)).item()
    shifted = x - x.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    kept = targets != -100
    expected = -log_p[np.arange(n)[kept], targets[kept]].mean()
    np.testing.assert_allclose(loss, expected, rtol=1e-9, atol=1e-9)


@given(seed=st.integers(0, 2**16), t=st.integers(2, 6), data=st.data())
def test_causal_attention_output_at_t_ignores_every_later_token(device, seed, t, data):
    tensor.manual_seed(seed)
    attention = nn.MultiHeadAttention(8, 2).to(device)
    x = tensor.randn(1, t, 8, device=device)
    position = data.draw(st.integers(0, t - 2))
    changed = x.detach().clone()
    changed[:, position + 1 :, :] = tensor.randn(1, t - position - 1, 8, device=device)
    before = attention(x, is_causal=True)[:, : position + 1]
    after = attention(changed, is_causal=True)[:, : position + 1]
    np.testing.assert_allclose(before.detach().cpu().numpy(), after.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)


@given(seed=st.integers(0, 2**16), permutation=st.permutations(range(5)))
def test_attention_without_positions_is_permutation_equivariant(device, seed, permutation):
    tensor.manual_seed(seed)
    attention = nn.MultiHeadAttention(8, 2).to(device).double()
    x = tensor.randn(2, 5, 8, dtype=tensor.float64, device=device)
    order = tensor.tensor(list(permutation), device=device)
    permuted_then_attended = attention(x[:, order])
    attended_then_permuted = attention(x)[:, order]
    np.testing.assert_allclose(
        permuted_then_attended.detach().cpu().numpy(),
        attended_then_permuted.detach().cpu().numpy(),
        rtol=1e-10,
        atol=1e-12,
    )


def test_dropout_is_identity_in_eval_and_keeps_the_mean_in_train(device):
    layer = nn.Dropout(0.3)
    x = tensor.ones(200_000, device=device)
    train_out = layer(x).cpu().numpy()
    assert abs(train_out.mean() - 1) < 0.01
    assert abs((train_out == 0).mean() - 0.3) < 0.01
    assert set(np.unique(train_out)) <= {0.0, np.float32(1 / 0.7)}
    layer.eval()
    assert layer(x) is x


def test_dropout_is_reproducible_under_manual_seed(device):
    x = tensor.ones(50, device=device)
    tensor.manual_seed(7)
    first = F.dropout(x, 0.5).tolist()
    tensor.manual_seed(7)
    assert F.dropout(x, 0.5).tolist() == first


def test_fully_masked_attention_rows_give_zeros_as_pytorch(device):
    q = k = v = tensor.randn(1, 3, 4, device=device, requires_grad=True)
    mask = tensor.tensor([[False, False, False], [True, False, False], [True, True, True]], device=device)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert out[0, 0].tolist() == [0.0] * 4 and np.isfinite(out.detach().cpu().numpy()).all()
    out.sum().backward()
    assert np.isfinite(q.grad.cpu().numpy()).all()
    float_mask = tensor.zeros(3, 3, device=device).masked_fill(~mask, float("-inf"))
    assert F.scaled_dot_product_attention(q, k, v, attn_mask=float_mask)[0, 0].tolist() == [0.0] * 4


def test_linear_and_embedding_initialise_as_pytorch(device):
    tensor.manual_seed(0)
    linear = nn.Linear(400, 300).to(device)
    bound = 1 / math.sqrt(400)
    w = linear.weight.detach().cpu().numpy()
    assert w.shape == (300, 400) and np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    emb = nn.Embedding(1000, 100).weight.detach().numpy()
    assert abs(emb.mean()) < 0.01 and abs(emb.std() - 1) < 0.01


def test_init_functions(device):
    w = tensor.empty(64, 32, device=device)
    nn.init.xavier_uniform_(w)
    assert np.abs(w.cpu().numpy()).max() <= math.sqrt(6 / 96)
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    assert np.abs(w.cpu().numpy()).max() <= math.sqrt(2) * math.sqrt(3 / 32)
    nn.init.normal_(w, std=0.02)
    assert abs(w.cpu().numpy().std() - 0.02) < 0.002
    assert nn.init.zeros_(w).cpu().numpy().max() == 0 and nn.init.ones_(w).cpu().numpy().min() == 1
