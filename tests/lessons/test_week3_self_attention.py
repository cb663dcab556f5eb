"""Week 3: self-attention. Why scale the scores by C**-0.5, and is attention aware of order?"""

import numpy as np
import pytest

import tensor
from tests.lessons.training import VOCAB, train_and_evaluate
from tinygrad_gpt import GPTVer2, HeadVer3, HeadVer4

T, C = 16, 32


def test_attention_has_no_notion_of_space_reordering_earlier_tokens_leaves_the_last_output_unchanged():
    head = HeadVer4(8, 16, 8)
    x = tensor.randn(1, 8, 16)
    shuffled = tensor.cat([x[:, tensor.tensor([3, 0, 6, 1, 5, 2, 4])], x[:, 7:]], dim=1)
    np.testing.assert_allclose(
        head(x)[0, -1].detach().numpy(), head(shuffled)[0, -1].detach().numpy(), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("width", [16, 64, 256])
def test_scaled_scores_have_variance_near_one_and_unscaled_near_the_width(width):
    x = tensor.zeros(64, 32, width)  # test=True draws unit-variance q, k, v of this shape
    scaled, unscaled = HeadVer4(32, width, 8), HeadVer4(32, width, 8, scaled=False)
    scaled(x, test=True)
    unscaled(x, test=True)
    assert 0.85 < scaled.var.item() < 1.15
    assert 0.85 * width < unscaled.var.item() < 1.15 * width


def test_without_scaling_softmax_saturates_towards_one_hot():
    x = tensor.zeros(64, 32, 256)
    scaled, unscaled = HeadVer4(32, 256, 8), HeadVer4(32, 256, 8, scaled=False)
    scaled(x, test=True)
    unscaled(x, test=True)
    # the largest weight in each row of the last position (which sees all 32 tokens)
    peak_scaled = scaled.wei[:, -1].max(-1).values.mean().item()
    peak_unscaled = unscaled.wei[:, -1].max(-1).values.mean().item()
    assert peak_unscaled > 0.8 and peak_scaled < 0.3  # uniform over 32 keys would be 1/32


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_self_attention_beats_the_average_of_the_past(seed):
    _, attention = train_and_evaluate(lambda: GPTVer2(HeadVer4(T, C, C), VOCAB, T, C), steps=150, seed=seed)
    _, average = train_and_evaluate(lambda: GPTVer2(HeadVer3(), VOCAB, T, C), steps=150, seed=seed)
    assert attention < average - 0.05
