"""The language models of the course, version by version, from bigram to a GPT.

Each has `logits(indices)`, `forward(indices, targets=None) -> (logits, loss)` and
`generate(indices, max_new_tokens)`.
"""

import math

import nn
import nn.functional as F
import tensor


class LanguageModel(nn.Module):
    """What every version shares: the loss and sampling. Subclasses define `logits`."""

    block_size = None

    def logits(self, indices):
        raise NotImplementedError

    def forward(self, indices, targets=None):
        logits = self.logits(indices)  # (B, T, vocab)
        if targets is None:
            return logits, None
        B, T, V = logits.shape
        return logits, F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T))

    @tensor.no_grad()
    def generate(self, indices, max_new_tokens):
        """Append max_new_tokens tokens, each sampled from the softmax of the last position's logits."""
        for _ in range(max_new_tokens):
            context = indices[:, -self.block_size :] if self.block_size else indices
            logits = self.logits(context)[:, -1, :]  # (B, vocab)
            next_token = tensor.multinomial(F.softmax(logits, dim=-1), num_samples=1)  # (B, 1)
            indices = tensor.cat([indices, next_token], dim=1)
        return indices


class GPTVer1(LanguageModel):
    """The bigram model: the next token's logits are a table row picked by the current token alone."""

    def __init__(self, vocab_size, block_size):
        super().__init__()
        self.block_size = block_size
        self.token_embedding_table = nn.Embedding(vocab_size, vocab_size)

    def logits(self, indices):
        return self.token_embedding_table(indices)  # (B, T, vocab)


class GPTVer2(LanguageModel):
    """Token embeddings, a contextualizer that lets positions see the past, and a linear head to logits."""

    def __init__(self, contextualizer, vocab_size, block_size, embed_size):
        super().__init__()
        self.block_size = block_size
        self.token_embedding_table = nn.Embedding(vocab_size, embed_size)
        self.contextualizer = contextualizer
        self.lm_head = nn.Linear(embed_size, vocab_size)

    def embed(self, indices):
        return self.token_embedding_table(indices)  # (B, T, C)

    def logits(self, indices):
        return self.lm_head(self.contextualizer(self.embed(indices)))  # (B, T, vocab)


def pos_encodings_v1(block_size, embed_size):
    """The raw position t in every dim: unique, but unbounded (grows with the length)."""
    return tensor.arange(block_size).float().reshape(-1, 1).expand(block_size, embed_size).contiguous()


def pos_encodings_v2(block_size, embed_size):
    """Position divided by the maximum position: bounded, but the same offset means
    different things in sequences of different lengths."""
    return pos_encodings_v1(block_size, embed_size) / max(block_size - 1, 1)


def _angles(block_size, embed_size, paired):
    """t * w_d for every position t and dim d, with w_d = 10000^(-e/C): e = d for one frequency
    per dim, or e = 2 floor(d/2) when dims 2i and 2i+1 share a frequency (paired)."""
    positions = tensor.arange(block_size).float().reshape(-1, 1)  # (T, 1)
    dims = tensor.arange(embed_size).float().reshape(1, -1)  # (1, C)
    exponents = dims - dims % 2 if paired else dims
    return positions * (-exponents / embed_size * math.log(10000.0)).exp()  # (T, C)


def pos_encodings_v3(block_size, embed_size):
    """A sine on every dim, each at its own frequency: bounded and length-independent, but the
    distance between two positions depends on where they are, not only on how far apart."""
    return _angles(block_size, embed_size, paired=False).sin()


def pos_encodings_v4(block_size, embed_size):
    """Sine/cosine pairs (Vaswani et al., 2017): dims 2i and 2i+1 are a point on a circle turning
    with t, so a shift by k is a rotation and distances depend only on k."""
    angles = _angles(block_size, embed_size, paired=True)
    even = tensor.arange(embed_size).reshape(1, -1) % 2 == 0
    return tensor.where(even, angles.sin(), angles.cos())


POSITION_ENCODINGS = {"v1": pos_encodings_v1, "v2": pos_encodings_v2, "v3": pos_encodings_v3, "v4": pos_encodings_v4}


class GPTVer3(GPTVer2):
    """Adds fixed sinusoidal position encodings to the token embeddings, so the same token at
    different positions is no longer the same vector (attention alone has no notion of order)."""

    def __init__(self, contextualizer, vocab_size, block_size, embed_size, encoding="v4"):
        super().__init__(contextualizer, vocab_size, block_size, embed_size)
        self.register_buffer("pos_encoding", POSITION_ENCODINGS[encoding](block_size, embed_size), persistent=False)

    # The four encodings, called as the course calls them: GPTVer3.pos_encodings_v1(T, C).
    pos_encodings_v1 = staticmethod(pos_encodings_v1)
    pos_encodings_v2 = staticmethod(pos_encodings_v2)
    pos_encodings_v3 = staticmethod(pos_encodings_v3)
    pos_encodings_v4 = staticmethod(pos_encodings_v4)

    def embed(self, indices):
        T = indices.shape[1]
        return self.token_embedding_table(indices) + self.pos_encoding[:T]  # (B, T, C) + (T, C)


class GPTVer4(GPTVer2):
    """Learned position embeddings (one trained vector per position, as GPT-2) and a final LayerNorm."""

    def __init__(self, contextualizer, vocab_size, block_size, embed_size):
        LanguageModel.__init__(self)  # the submodules in the course's order, which is the state dict's order
        self.block_size = block_size
        self.token_embedding_table = nn.Embedding(vocab_size, embed_size)
        self.pos_embedding_table = nn.Embedding(block_size, embed_size)
        self.contextualizer = contextualizer
        self.ln_f = nn.LayerNorm(embed_size)  # the fused one, as the course
        self.lm_head = nn.Linear(embed_size, vocab_size)

    def embed(self, indices):
        T = indices.shape[1]
        positions = tensor.arange(T, device=indices.device)
        return self.token_embedding_table(indices) + self.pos_embedding_table(positions)  # (B, T, C)

    def logits(self, indices):
        return self.lm_head(self.ln_f(self.contextualizer(self.embed(indices))))
