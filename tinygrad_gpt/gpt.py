"""The full GPT for real use: the course's final architecture with the fast paths switched on.

Pre-LN blocks of fused multi-head causal attention (nn.functional.scaled_dot_product_attention)
and a 4x ReLU feed-forward, learned positions, a final LayerNorm, normal(0, 0.02)
initialisation, optional weight tying, and generation with temperature, top-k and a KV cache.
"""

from dataclasses import asdict, dataclass

import nn
import nn.functional as F
import tensor

from .blocks import FeedForward
from .models import LanguageModel


@dataclass
class GPTConfig:
    vocab_size: int = 65
    block_size: int = 32  # the longest context, in tokens
    n_embd: int = 64
    n_head: int = 4
    n_layer: int = 4
    dropout: float = 0.0
    bias: bool = True
    tie_weights: bool = False  # share the token embedding with lm_head

    def __post_init__(self):
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        for name in ("vocab_size", "block_size", "n_embd", "n_head", "n_layer"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self):
        return asdict(self)


class Block(nn.Module):
    """Pre-LN transformer block: x + attention(LN(x)), then x + feed-forward(LN(x)), dropout on both."""

    def __init__(self, config):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.n_embd)
        self.sa = nn.MultiHeadAttention(config.n_embd, config.n_head, dropout=config.dropout, bias=config.bias)
        self.ln2 = nn.LayerNorm(config.n_embd)
        self.ffwd = FeedForward(config.n_embd)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x, cache=None):
        x = x + self.sa(self.ln1(x), is_causal=True, cache=cache)
        return x + self.dropout(self.ffwd(self.ln2(x)))


class GPT(LanguageModel):
    """A decoder-only transformer language model (GPT-2's layout), configured by a GPTConfig.

    indices (B, T) of token ids, T <= config.block_size -> logits (B, T, vocab_size): token
    plus position embeddings (B, T, n_embd), dropout, config.n_layer Blocks, a final LayerNorm and
    a linear head. forward(indices, targets=None) -> (logits, loss) is LanguageModel's (loss the
    cross-entropy against targets (B, T), or None); generate samples with temperature, top-k and
    a KV cache.
    """

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.block_size = config.block_size
        self.token_embedding_table = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_embedding_table = nn.Embedding(config.block_size, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=config.bias and not config.tie_weights)
        self.apply(self._init_weights)
        if config.tie_weights:
            self.lm_head.weight = self.token_embedding_table.weight  # both (vocab, n_embd)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_parameters(self):
        return sum(p.numel() for p in self.parameters())

    def embed(self, indices, start=0):
        """Token embeddings plus the embeddings of positions start .. start + T - 1: (B, T, C)."""
        B, T = indices.shape
        if start + T > self.block_size:
            raise ValueError(f"sequence of {start + T} tokens is longer than block_size {self.block_size}")
        positions = tensor.arange(start, start + T, device=indices.device)
        return self.token_embedding_table(indices) + self.pos_embedding_table(positions)

    def logits(self, indices, caches=None, start=0):
        """(B, T) token ids -> (B, T, vocab) logits; `caches` (one dict per block) and `start`
        (the position of indices[:, 0]) are for generation with a KV cache."""
        x = self.dropout(self.embed(indices, start))  # (B, T, C)
        for i, block in enumerate(self.blocks):
            x = block(x, cache=None if caches is None else caches[i])
        return self.lm_head(self.ln_f(x))  # (B, T, vocab)

    @tensor.no_grad()
    def generate(self, indices, max_new_tokens, temperature=1.0, top_k=None, use_cache=True):
        """Sample max_new_tokens tokens after `indices` (B, T).

        temperature < 1 sharpens the distribution, > 1 flattens it; top_k keeps the k most
        likely tokens. With use_cache, each step feeds only the new token and reuses the
        keys and values of earlier positions. Once the context fills block_size, the window
        slides and every position moves, so each step recomputes the window as it would
        without the cache: either way the tokens are the same.
        """
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        caches, cached_length = None, 0
        for _ in range(max_new_tokens):
            if not use_cache:
                logits = self.logits(indices[:, -self.block_size :])
            elif caches is not None and cached_length < self.block_size:
                logits = self.logits(indices[:, -1:], caches=caches, start=cached_length)
                cached_length += 1
            else:  # first step, or the window slid: fill the cache from the visible context
                context = indices[:, -self.block_size :]
                caches = [{} for _ in self.blocks]
                logits = self.logits(context, caches=caches)
                cached_length = context.shape[1]
            logits = logits[:, -1, :] / temperature  # (B, vocab)
            if top_k is not None:
                kth_largest = logits.topk(min(top_k, logits.shape[-1])).values[:, [-1]]  # (B, 1)
                logits = logits.masked_fill(logits < kth_largest, float("-inf"))
            next_token = tensor.multinomial(F.softmax(logits, dim=-1), num_samples=1)  # (B, 1)
            indices = tensor.cat([indices, next_token], dim=1)
        return indices
