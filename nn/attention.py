"""Attention masks for the four schemes learners meet, and MultiHeadAttention.

Every mask here is a bool tensor in which True means "this query may attend to
this key", of shape (T_query, T_key) or broadcastable to (B, heads, T_query, T_key).
Combine masks with `&`.
"""

import tensor

from . import functional as F
from .layers import Dropout, Linear
from .module import Module


def bidirectional_mask(length, device=None):
    """Every position sees every position (an encoder, as in BERT)."""
    return tensor.ones(length, length, dtype=tensor.bool, device=device)


def causal_mask(length, device=None):
    """Position i sees positions 0..i (a decoder, as in GPT): the lower triangle."""
    return tensor.tril(tensor.ones(length, length, device=device)) > 0


def padding_mask(lengths, max_length, device=None):
    """(B, 1, 1, T): in sequence b, keys at positions >= lengths[b] are padding and are never attended to."""
    lengths = lengths if isinstance(lengths, tensor.Tensor) else tensor.tensor(lengths, device=device)
    positions = tensor.arange(max_length, device=lengths.device)
    return (positions.reshape(1, -1) < lengths.reshape(-1, 1)).reshape(-1, 1, 1, max_length)


def prefix_lm_mask(length, prefix_length, device=None):
    """The first prefix_length positions see each other freely; later ones are causal (prefix LM, as in T5/UniLM)."""
    keys = tensor.arange(length, device=device).reshape(1, -1)
    queries = tensor.arange(length, device=device).reshape(-1, 1)
    return (keys <= queries) | (keys < prefix_length)


class MultiHeadAttention(Module):
    """Self-attention (context=None) or cross-attention (keys and values from `context`).

    All heads are computed at once: project to (B, T, C), split C into heads
    (B, heads, T, head_size), attend with one batched matmul, merge, project.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, context_dim=None):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        context_dim = context_dim or embed_dim
        self.embed_dim, self.num_heads, self.dropout_p = embed_dim, num_heads, dropout
        self.query = Linear(embed_dim, embed_dim, bias=bias)
        self.key = Linear(context_dim, embed_dim, bias=bias)
        self.value = Linear(context_dim, embed_dim, bias=bias)
        self.proj = Linear(embed_dim, embed_dim, bias=bias)
        self.resid_dropout = Dropout(dropout)

    def _split_heads(self, x):
        B, T, C = x.shape
        return x.reshape(B, T, self.num_heads, C // self.num_heads).transpose(1, 2)  # (B, heads, T, head_size)

    def attention_weights(self, x, context=None, attn_mask=None, is_causal=False):
        """softmax(Q K^T / sqrt(head_size), masked) of every head: (B, heads, Tq, Tk), rows summing to 1.

        The weights with which forward averages the values (before dropout), for plots and
        inspection: what PyTorch's nn.MultiheadAttention returns with need_weights=True,
        average_attn_weights=False. Masks as in forward (bool: True = may attend; or float, added).
        """
        context = x if context is None else context
        q = self._split_heads(self.query(x))  # (B, heads, Tq, hs)
        k = self._split_heads(self.key(context))  # (B, heads, Tk, hs)
        scores = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)  # (B, heads, Tq, Tk)
        if is_causal:  # query i sees keys 0..i, as F.scaled_dot_product_attention
            attn_mask = tensor.tril(tensor.ones(q.shape[2], k.shape[2], device=x.device)) > 0
        if attn_mask is not None:
            is_bool = attn_mask.dtype == tensor.bool
            scores = scores.masked_fill(~attn_mask, float("-inf")) if is_bool else scores + attn_mask
        return F.softmax(scores, -1)

    def forward(self, x, context=None, attn_mask=None, is_causal=False, cache=None):
        """x (B, Tq, C) -> (B, Tq, C). `cache`: a dict that keeps this layer's keys and values
        between calls, for generation one token at a time (self-attention only)."""
        context = x if context is None else context
        q = self._split_heads(self.query(x))  # (B, heads, Tq, hs)
        k = self._split_heads(self.key(context))  # (B, heads, Tk, hs)
        v = self._split_heads(self.value(context))  # (B, heads, Tk, hs)
        if cache is not None:
            if "key" in cache:  # the new positions attend to every cached one too
                k, v = tensor.cat([cache["key"], k], dim=2), tensor.cat([cache["value"], v], dim=2)
            cache["key"], cache["value"] = k, v
            if is_causal and q.shape[2] != k.shape[2]:
                # the queries are the last Tq positions: query i sees keys 0 .. (Tk - Tq) + i
                past = k.shape[2] - q.shape[2]
                attn_mask = causal_mask(k.shape[2], device=x.device)[past:]
                is_causal = False
        dropout_p = self.dropout_p if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal)
        B, _, Tq, _ = out.shape
        out = out.transpose(1, 2).reshape(B, Tq, self.embed_dim)  # (B, Tq, C)
        return self.resid_dropout(self.proj(out))
