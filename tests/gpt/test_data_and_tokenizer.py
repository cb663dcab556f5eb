"""Tokenizer, corpus loading, batches: round trips and clear errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_gpt import CharTokenizer, Dataset, builtin_corpus, load_text


@given(st.text(min_size=1))
def test_tokenizer_round_trips_any_text_of_its_vocabulary(text):
    tokenizer = CharTokenizer.from_text(text)
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert CharTokenizer.from_state_dict(tokenizer.state_dict()).encode(text) == tokenizer.encode(text)


def test_unknown_character_is_a_clear_error_naming_it():
    with pytest.raises(ValueError, match="not in the vocabulary: 'z'"):
        CharTokenizer("abc").encode("abz")


def test_builtin_corpus_needs_no_download_and_is_large():
    text = builtin_corpus()
    assert len(text) > 100_000 and "def " in text


def test_load_text_errors(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ValueError, match="is empty"):
        load_text(tmp_path / "empty.txt")
    with pytest.raises(ValueError, match="not UTF-8"):
        load_text(tmp_path / "latin1.txt")
    with pytest.raises(FileNotFoundError):
        load_text(tmp_path / "missing.txt")


def test_corpus_shorter_than_block_size_is_a_clear_error():
    with pytest.raises(ValueError, match="more than block_size = 32"):
        Dataset(list(range(20)), block_size=32)


def test_batches_are_shifted_by_one_and_reproducible():
    dataset = Dataset(np.arange(1000) % 50, block_size=8)
    x, y = dataset.batch("train", 4, np.random.default_rng(0))
    assert x.shape == y.shape == (4, 8)
    np.testing.assert_array_equal(x.numpy()[:, 1:], y.numpy()[:, :-1])
    x2, _ = dataset.batch("train", 4, np.random.default_rng(0))
    assert x.tolist() == x2.tolist()
    assert len(dataset.splits["train"]) == 900 and len(dataset.splits["val"]) == 100
