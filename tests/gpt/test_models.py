"""The course's models: shapes, parameter names (as the course's PyTorch code), gradients, generation."""

import numpy as np
import pytest

import nn
import tensor
from tinygrad_gpt import (
    GPT,
    BlockVer1,
    BlockVer2,
    BlockVer3,
    BlockVer4,
    GPTConfig,
    GPTVer1,
    GPTVer2,
    GPTVer3,
    GPTVer4,
    HeadVer1,
    HeadVer2,
    HeadVer3,
    HeadVer4,
    LayerNorm,
    MultiHeadVer1,
    MultiHeadVer2,
)

B, T, C, V = 2, 8, 16, 11


def indices(device="cpu"):
    return tensor.randint(V, (B, T), device=device)


@pytest.mark.parametrize(
    "make, out_features",
    [
        (HeadVer1, C),
        (HeadVer2, C),
        (HeadVer3, C),
        (lambda: HeadVer4(T, C, 4), 4),
        (lambda: MultiHeadVer1(T, C, 4), C),
        (lambda: MultiHeadVer2(T, C, 4), C),
        (lambda: BlockVer1(MultiHeadVer2(T, C, 4), C), C),
        (lambda: BlockVer2(MultiHeadVer2(T, C, 4), C), C),
        (lambda: BlockVer3(MultiHeadVer2(T, C, 4), C, norm="post"), C),
        (lambda: BlockVer4(MultiHeadVer2(T, C, 4), C, 0.1), C),
    ],
)
def test_contextualizers_map_btc_to_btc(make, out_features, device):
    assert make().to(device)(tensor.randn(B, T, C, device=device)).shape == (B, T, out_features)


def test_state_dict_names_follow_the_course():
    head = HeadVer4(T, C, 4)
    assert set(head.state_dict()) == {"key.weight", "query.weight", "value.weight", "tril"}
    assert {"heads.1.key.weight", "proj.weight", "proj.bias"} <= set(MultiHeadVer1(T, C, 4).state_dict())
    assert {"query.weight", "key.weight", "value.weight", "proj.weight", "tril"} <= set(
        MultiHeadVer2(T, C, 4).state_dict()
    )
    assert set(LayerNorm(C).state_dict()) == {"gamma", "beta"}
    block = BlockVer3(MultiHeadVer1(T, C, 2), C)
    assert {"head.heads.0.key.weight", "ffwd.net.0.weight", "ffwd.net.2.bias", "ln1.gamma", "ln2.beta"} <= set(
        block.state_dict()
    )
    assert {"head.0.heads.0.key.weight", "ffwd.0.net.0.weight", "ln1.gamma"} <= set(
        BlockVer4(MultiHeadVer1(T, C, 2), C, 0.1).state_dict()
    )
    assert set(GPTVer1(V, T).state_dict()) == {"token_embedding_table.weight"}
    gpt4 = GPTVer4(nn.Sequential(BlockVer3(MultiHeadVer2(T, C, 2), C)), V, T, C)
    keys = set(gpt4.state_dict())
    assert {
        "token_embedding_table.weight",
        "pos_embedding_table.weight",
        "ln_f.weight",
        "lm_head.weight",
        "contextualizer.0.head.query.weight",
    } <= keys


@pytest.mark.parametrize(
    "make",
    [
        lambda: GPTVer1(V, T),
        lambda: GPTVer2(HeadVer3(), V, T, C),
        lambda: GPTVer3(MultiHeadVer2(T, C, 2), V, T, C),
        lambda: GPTVer4(BlockVer4(MultiHeadVer2(T, C, 2), C, 0.0), V, T, C),
        lambda: GPT(GPTConfig(vocab_size=V, block_size=T, n_embd=C, n_head=2, n_layer=2)),
    ],
)
def test_language_models_return_logits_and_loss_and_generate(make, device):
    model = make().to(device)
    logits, loss = model(indices(device), indices(device))
    assert logits.shape == (B, T, V) and loss.shape == ()
    assert model(indices(device))[1] is None
    out = model.generate(indices(device)[:, :3], max_new_tokens=2 * T)
    assert out.shape == (B, 3 + 2 * T) and int(out.max().item()) < V


def test_whole_gpt_gradient_matches_directional_finite_differences():
    tensor.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=V, block_size=T, n_embd=8, n_head=2, n_layer=2, dropout=0.0)).double()
    x, y = indices(), indices()
    params = list(model.parameters())
    assert tensor.gradcheck_directional(lambda *ps: model(x, y)[1], params, eps=1e-6)


def test_course_models_gradients_match_directional_finite_differences():
    tensor.manual_seed(0)
    model = GPTVer4(nn.Sequential(BlockVer3(MultiHeadVer1(T, 8, 2), 8, norm="post")), V, T, 8).double()
    x, y = indices(), indices()
    assert tensor.gradcheck_directional(lambda *ps: model(x, y)[1], list(model.parameters()))


def test_course_layer_norm_divides_by_unbiased_std_plus_eps_unlike_the_fused_one():
    x = tensor.randn(3, 5, 16, dtype=tensor.float64)
    course, fused = LayerNorm(16).double(), nn.LayerNorm(16, eps=0.0).double()
    a, b = course(x).detach().numpy(), fused(x).detach().numpy()
    xs = x.numpy()
    expected = (xs - xs.mean(-1, keepdims=True)) / (xs.std(-1, ddof=1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(a, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a, b * np.sqrt(15 / 16), rtol=1e-5)  # std over n - 1 instead of n


def test_kv_cache_generates_the_same_tokens_as_recomputing(device):
    model = GPT(GPTConfig(vocab_size=V, block_size=T, n_embd=C, n_head=4, n_layer=2)).double().to(device)
    prompt = indices(device)[:, :3]
    runs = []
    for use_cache in (True, False):
        tensor.manual_seed(5)
        runs.append(
            model.generate(prompt, max_new_tokens=3 * T, temperature=0.8, top_k=5, use_cache=use_cache).tolist()
        )
    assert runs[0] == runs[1]


def test_top_k_one_is_greedy():
    model = GPT(GPTConfig(vocab_size=V, block_size=T, n_embd=C, n_head=2, n_layer=1))
    prompt = indices()[:, :4]
    out = model.generate(prompt, 1, top_k=1)
    expected = model(prompt)[0][:, -1, :].argmax(-1)
    assert out[:, -1].tolist() == expected.tolist()


def test_weight_tying_shares_one_parameter():
    model = GPT(GPTConfig(vocab_size=V, block_size=T, n_embd=C, n_head=2, n_layer=1, tie_weights=True))
    assert model.lm_head.weight is model.token_embedding_table.weight
    untied = GPT(GPTConfig(vocab_size=V, block_size=T, n_embd=C, n_head=2, n_layer=1, tie_weights=False))
    assert model.num_parameters() == untied.num_parameters() - V * C - V


def test_gpt_init_is_normal_002_with_zero_biases():
    model = GPT(GPTConfig(vocab_size=200, block_size=64, n_embd=64, n_head=4, n_layer=2))
    w = model.blocks[0].ffwd.net[0].weight.detach().numpy()
    assert abs(w.std() - 0.02) < 0.002
    assert model.blocks[0].ffwd.net[0].bias.detach().numpy().max() == 0


def test_gpt_config_and_input_errors():
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(n_embd=10, n_head=4)
    model = GPT(GPTConfig(vocab_size=V, block_size=T, n_embd=C, n_head=2, n_layer=1))
    with pytest.raises(ValueError, match="longer than block_size 8"):
        model(tensor.zeros(1, T + 1, dtype=tensor.long))
    with pytest.raises(ValueError, match="temperature"):
        model.generate(tensor.zeros(1, 1, dtype=tensor.long), 1, temperature=0)
