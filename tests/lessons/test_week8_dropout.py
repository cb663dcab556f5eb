"""Week 8: dropout. What does it change between training and evaluation, and what is it for?"""

import pytest

import nn
import tensor
from tests.lessons.training import CORPUS, VOCAB, train_and_evaluate
from tinygrad_gpt import BlockVer4, GPTVer4, MultiHeadVer2

T, C = 16, 32


def test_block_ver4_outputs_differ_between_calls_in_train_mode_and_not_in_eval_mode():
    block = BlockVer4(MultiHeadVer2(T, C, 4), C, dropout=0.2)
    x = tensor.randn(2, T, C)
    assert not tensor.allclose(block(x), block(x))
    block.eval()
    assert tensor.equal(block(x), block(x))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_on_a_tiny_training_split_dropout_narrows_the_gap_between_train_and_validation_loss(seed):
    tiny = CORPUS[:3000]  # 2,700 training characters: easy to memorize

    def model(p):
        return lambda: GPTVer4(nn.Sequential(*[BlockVer4(MultiHeadVer2(T, C, 4), C, p) for _ in range(2)]), VOCAB, T, C)

    train_with, val_with = train_and_evaluate(model(0.3), steps=300, seed=seed, text=tiny)
    train_without, val_without = train_and_evaluate(model(0.0), steps=300, seed=seed, text=tiny)
    assert (val_with - train_with) < (val_without - train_without) - 0.1
