"""BPETokenizer: byte-level merges learned as the textbook describes, any UTF-8 text round-trips, state is plain JSON."""

import json
import math
import re
from collections import Counter

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tinygrad_gpt.data import builtin_corpus
from tinygrad_gpt.tokenizer import (
    CHUNK_PATTERN,
    BPETokenizer,
    CharTokenizer,
    bits_per_character,
    tokenizer_from_state_dict,
)

CORPUS = builtin_corpus()
SMALL = BPETokenizer.from_text(CORPUS[:20_000], vocab_size=300)


def naive_merges(text, number_of_merges):
    """The definition, slowly: recount every pair of every chunk before each merge."""
    chunks = [list(chunk.encode("utf-8")) for chunk in re.findall(CHUNK_PATTERN, text)]
    merges = []
    for new_id in range(256, 256 + number_of_merges):
        counts = Counter(pair for chunk in chunks for pair in zip(chunk, chunk[1:]))
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))  # most frequent, then smallest ids
        merges.append(best)
        for chunk in chunks:
            i = 0
            while i < len(chunk) - 1:
                if (chunk[i], chunk[i + 1]) == best:
                    chunk[i : i + 2] = [new_id]
                i += 1
    return merges


def naive_encode(tokenizer, text):
    """The definition of encoding: apply the merges in the order they were learned, each to the whole chunk."""
    ids = []
    for chunk in re.findall(CHUNK_PATTERN, text):
        chunk_ids = list(chunk.encode("utf-8"))
        for new_id, (left, right) in enumerate(tokenizer.merges, start=256):
            i = 0
            while i < len(chunk_ids) - 1:
                if (chunk_ids[i], chunk_ids[i + 1]) == (left, right):
                    chunk_ids[i : i + 2] = [new_id]
                i += 1
        ids += chunk_ids
    return ids


def test_the_textbook_example_merges_the_most_frequent_pair_first():
    tokenizer = BPETokenizer.from_text("aaabdaaabac", vocab_size=259)
    # "aa" (4 times) -> 256; then "ab" and "256 a" tie at 2 and the smaller ids win -> 257; then 256 257 -> 258
    assert tokenizer.merges == [(97, 97), (97, 98), (256, 257)]
    assert tokenizer.encode("aaabdaaabac") == [258, ord("d"), 258, ord("a"), ord("c")]


@given(text=st.text(alphabet="ab c\n", max_size=60), merges=st.integers(1, 12))
@example(text="cacaaa", merges=2)  # merging "aa" leaves "ca" once: its heap entry still says twice
def test_incremental_pair_counts_learn_the_same_merges_as_recounting(text, merges):
    assert BPETokenizer.from_text(text, vocab_size=256 + merges).merges == naive_merges(text, merges)


@given(start=st.integers(0, len(CORPUS) - 400))
def test_encoding_replays_the_merges_in_the_order_they_were_learned(start):
    text = CORPUS[start : start + 400]
    assert SMALL.encode(text) == naive_encode(SMALL, text)


@given(text=st.text())
def test_any_unicode_text_round_trips(text):
    assert SMALL.decode(SMALL.encode(text)) == text


def test_the_corpus_round_trips_and_is_shorter_in_tokens_than_in_bytes():
    tokenizer = BPETokenizer.from_text(CORPUS, vocab_size=512)
    assert tokenizer.vocab_size == 512
    ids = tokenizer.encode(CORPUS)
    assert tokenizer.decode(ids) == CORPUS
    assert max(ids) == 511 and len(ids) < 0.6 * len(CORPUS.encode("utf-8"))


def test_training_is_deterministic():
    text = CORPUS[:30_000]
    assert BPETokenizer.from_text(text, 320).merges == BPETokenizer.from_text(text, 320).merges


def test_no_token_spans_two_words():
    for token in SMALL.vocab[256:]:
        text = token.decode("utf-8", errors="ignore")
        assert re.fullmatch(r" ?\S*|\s*", text), token  # whitespace only, or one leading space at most


def test_state_is_plain_json_and_restores_the_same_tokenizer():
    state = json.loads(json.dumps(SMALL.state_dict()))
    restored = tokenizer_from_state_dict(state)
    assert isinstance(restored, BPETokenizer) and restored.merges == SMALL.merges
    text = CORPUS[50_000:51_000]
    assert restored.encode(text) == SMALL.encode(text)


def test_char_tokenizer_state_restores_through_the_same_function():
    char = CharTokenizer.from_text("hello")
    assert tokenizer_from_state_dict(char.state_dict()).encode("hell") == char.encode("hell")
    assert tokenizer_from_state_dict({"chars": "eh"}).vocab_size == 2  # a state saved before BPE existed


def test_a_merge_that_refers_to_a_later_token_is_refused():
    with pytest.raises(ValueError, match="merge 1 is \\(257, 97\\)"):
        BPETokenizer([(97, 97), (257, 97)])


def test_decoding_an_id_outside_the_vocabulary_is_refused():
    with pytest.raises(ValueError, match="token id 300 is outside the vocabulary \\(0 .. 299\\)"):
        SMALL.decode([300])


def test_bits_per_character_spreads_the_loss_over_the_characters():
    # 10 tokens at ln 2 nats each are 10 bits; over 20 characters, half a bit each
    assert bits_per_character(math.log(2), tokens=10, characters=20) == pytest.approx(0.5)
    # a character tokenizer: one token per character, so bits per character = nats per token / ln 2
    assert bits_per_character(1.2, tokens=500, characters=500) == pytest.approx(1.2 / math.log(2))
