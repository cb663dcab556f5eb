"""Week 6: feed-forward layers and residual connections. What does each add, and why does depth need residuals?"""

import pytest

import nn
from tests.lessons.training import VOCAB, train_and_evaluate
from tinygrad_gpt import BlockVer1, BlockVer2, GPTVer4, MultiHeadVer2

T, C = 16, 32


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_feed_forward_layer_helps(seed):
    _, with_ffwd = train_and_evaluate(
        lambda: GPTVer4(BlockVer1(MultiHeadVer2(T, C, 4), C), VOCAB, T, C), steps=150, seed=seed
    )
    _, attention_only = train_and_evaluate(lambda: GPTVer4(MultiHeadVer2(T, C, 4), VOCAB, T, C), steps=150, seed=seed)
    assert with_ffwd < attention_only - 0.04


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_residual_connections_help_when_the_network_is_deep(seed):
    def deep(block):
        return lambda: GPTVer4(nn.Sequential(*[block(MultiHeadVer2(T, C, 4), C) for _ in range(6)]), VOCAB, T, C)

    _, residual = train_and_evaluate(deep(BlockVer2), steps=150, seed=seed)
    _, plain = train_and_evaluate(deep(BlockVer1), steps=150, seed=seed)
    assert residual < plain - 0.3
