"""Tokenizers: text <-> token ids, one per character or learned byte pairs.

Both share one interface: `encode(text) -> list of ids`, `decode(ids) -> text`, `vocab_size`,
`from_text(text, ...)` to build one from a corpus, and `state_dict()`, plain JSON-able data
(no pickle) that `tokenizer_from_state_dict` turns back into the same tokenizer.

Byte-pair encoding, the merges. BPETokenizer starts from the 256 possible bytes of UTF-8,
so any text can be encoded and no character is ever unknown. Training counts every pair of
adjacent tokens in the corpus and makes the most frequent pair (say "e" followed by " ") a
new token, replacing it everywhere: the corpus gets shorter by that pair's count. Repeat
until the vocabulary has vocab_size tokens; frequent words end up as one token, rare ones
as a few pieces, and a never-seen character as its bytes. The list of merges, in the order
learned, is the whole tokenizer: encoding a new text replays them, earliest-learned first.
Before counting, the text is cut into chunks (a word with the space before it, a number, a
run of punctuation, whitespace), and pairs are counted inside chunks only, so a token never
spans the end of one word and the start of the next (as GPT-2 does).
"""

import heapq
import math
import re
from collections import Counter, defaultdict


class CharTokenizer:
    """One token per distinct character of the training text."""

    def __init__(self, chars):
        self.chars = sorted(set(chars))
        if not self.chars:
            raise ValueError("CharTokenizer needs at least one character")
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text):
        return cls(text)

    @property
    def vocab_size(self):
        return len(self.chars)

    def encode(self, text):
        unknown = sorted({c for c in text if c not in self.stoi})
        if unknown:
            shown = ", ".join(repr(c) for c in unknown[:10])
            raise ValueError(f"text contains {len(unknown)} character(s) not in the vocabulary: {shown}")
        return [self.stoi[c] for c in text]

    def decode(self, tokens):
        return "".join(self.chars[int(t)] for t in tokens)

    def state_dict(self):
        return {"kind": "char", "chars": "".join(self.chars)}

    @classmethod
    def from_state_dict(cls, state):
        return cls(state["chars"])


# A word with its leading space, a number, a run of other symbols, or whitespace (all but the
# last space of a run, which goes with the next word): every character falls in one of these.
CHUNK_PATTERN = r" ?[^\W\d_]+| ?\d+| ?(?:_|[^\w\s])+|\s+(?!\S)|\s+"


class BPETokenizer:
    """Byte-level byte-pair encoding: token ids 0-255 are bytes, id 256 + i is merges[i] = (left id, right id)."""

    def __init__(self, merges, pattern=CHUNK_PATTERN):
        self.merges = [tuple(pair) for pair in merges]
        self.pattern = pattern
        self.ranks = {}  # (left, right) -> index of the merge, so 256 + index is the merged token's id
        self.vocab = [bytes([b]) for b in range(256)]  # id -> the bytes it stands for
        for index, (left, right) in enumerate(self.merges):
            if not (0 <= left < 256 + index and 0 <= right < 256 + index):
                raise ValueError(f"merge {index} is ({left}, {right}): it may only join ids below {256 + index}")
            self.ranks[(left, right)] = index
            self.vocab.append(self.vocab[left] + self.vocab[right])

    @classmethod
    def from_text(cls, text, vocab_size=512):
        """Learn vocab_size - 256 merges from text (fewer only if the text runs out of pairs).

        Deterministic: among pairs of equal count, the one with the smaller ids is merged first.
        """
        if vocab_size < 256:
            raise ValueError(f"a byte-level BPE vocabulary has at least the 256 bytes, got vocab_size={vocab_size}")
        chunk_counts = Counter(re.findall(CHUNK_PATTERN, text))
        return cls(_learn_merges(chunk_counts, vocab_size - 256))

    @property
    def vocab_size(self):
        return 256 + len(self.merges)

    def encode(self, text):
        known = {}  # a chunk repeats (" the"): encode each distinct one once
        ids = []
        for chunk in re.findall(self.pattern, text):
            if chunk not in known:
                known[chunk] = self._encode_chunk(chunk)
            ids.extend(known[chunk])
        return ids

    def _encode_chunk(self, chunk):
        ids = list(chunk.encode("utf-8"))
        while len(ids) > 1:
            pair = min(zip(ids, ids[1:]), key=lambda p: self.ranks.get(p, math.inf))  # the earliest-learned merge
            if pair not in self.ranks:
                break
            ids = _merge(ids, pair, 256 + self.ranks[pair])
        return ids

    def decode(self, tokens):
        """The text of the tokens; bytes that do not form whole UTF-8 characters (a sampled
        sequence can cut one) decode as U+FFFD."""
        pieces = []
        for t in tokens:
            t = int(t)
            if not 0 <= t < self.vocab_size:
                raise ValueError(f"token id {t} is outside the vocabulary (0 .. {self.vocab_size - 1})")
            pieces.append(self.vocab[t])
        return b"".join(pieces).decode("utf-8", errors="replace")

    def state_dict(self):
        return {"kind": "bpe", "merges": [list(pair) for pair in self.merges], "pattern": self.pattern}

    @classmethod
    def from_state_dict(cls, state):
        return cls(state["merges"], state["pattern"])


def tokenizer_from_state_dict(state):
    """The tokenizer a state_dict() describes (a state without "kind" is a CharTokenizer's, from before BPE)."""
    kinds = {"char": CharTokenizer, "bpe": BPETokenizer}
    kind = state.get("kind", "char")
    if kind not in kinds:
        raise ValueError(f"unknown tokenizer kind {kind!r}: expected one of {sorted(kinds)}")
    return kinds[kind].from_state_dict(state)


def bits_per_character(nats_per_token, tokens, characters):
    """A loss in nats per token as bits per character of the text those tokens encode.

    tokens * nats_per_token is the loss of the whole text; spread over its characters and
    divided by ln 2 it is in bits per character, comparable between tokenizers (a BPE token
    covers several characters, so its loss per token is larger for the same model quality).
    """
    return nats_per_token * tokens / (characters * math.log(2))


def _merge(ids, pair, new_id):
    """ids with every occurrence of `pair`, from left to right, replaced by new_id."""
    merged, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return merged


def _learn_merges(chunk_counts, number_of_merges):
    """The BPE merges of a corpus given as {chunk: how often it occurs}.

    Counting all pairs of the corpus again after each merge would cost a pass over the text
    per merge. Instead the counts are kept up to date: a merge only changes the chunks that
    contain its pair, so only their pairs are uncounted and counted again. A heap of
    (-count, pair) finds the most frequent pair; entries whose count has since changed are
    skipped when they surface (each change pushes a fresh entry).
    """
    words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]  # each distinct chunk as token ids
    weights = list(chunk_counts.values())
    pair_counts = Counter()
    chunks_with = defaultdict(set)  # pair -> indices of the chunks that (may) contain it
    for index, word in enumerate(words):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += weights[index]
            chunks_with[pair].add(index)
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)
    merges = []
    while heap and len(merges) < number_of_merges:
        negative_count, pair = heapq.heappop(heap)
        if pair_counts.get(pair) != -negative_count:
            continue  # stale: this pair's count changed after the entry was pushed
        new_id = 256 + len(merges)
        merges.append(pair)
        changed = set()
        for index in chunks_with.pop(pair):
            word, weight = words[index], weights[index]
            for old in zip(word, word[1:]):
                pair_counts[old] -= weight
                changed.add(old)
            words[index] = word = _merge(word, pair, new_id)
            for new in zip(word, word[1:]):
                pair_counts[new] += weight
                chunks_with[new].add(index)
                changed.add(new)
        for p in changed:
            if pair_counts[p] > 0:
                heapq.heappush(heap, (-pair_counts[p], p))
            else:
                del pair_counts[p]
    return merges
