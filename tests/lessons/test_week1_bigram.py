"""Week 1: the bigram model. What can a model learn from the current character alone?"""

import math

import pytest

import tensor
from tests.lessons.training import TOKENIZER, VOCAB, train_and_evaluate
from tinygrad_gpt import GPTVer1

SEEDS = [0, 1, 2]


@pytest.mark.parametrize("seed", SEEDS)
def test_trained_bigram_loss_falls_well_below_uniform_guessing(seed):
    untrained = math.log(VOCAB)  # the loss of a uniform guess over the vocabulary
    _, val = train_and_evaluate(lambda: GPTVer1(VOCAB, 8), steps=300, seed=seed, block_size=8, lr=3e-2)
    assert val < untrained - 1.5


def test_samples_are_made_of_vocabulary_characters_and_reproducible_under_a_seed():
    model = GPTVer1(VOCAB, 8)
    start = tensor.tensor([TOKENIZER.encode("d")])
    tensor.manual_seed(42)
    first = model.generate(start, 50)[0].tolist()
    tensor.manual_seed(42)
    assert model.generate(start, 50)[0].tolist() == first
    assert set(TOKENIZER.decode(first)) <= set(TOKENIZER.chars)
