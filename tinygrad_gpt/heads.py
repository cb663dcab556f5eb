"""Contextualizers, version by version: how a token gathers information from the tokens before it.

Each maps x of shape (B, T, C) to (B, T, C') in which position t depends only on
positions 0..t. Read them in order: each docstring says what changed and why.
"""

import nn
import nn.functional as F
import tensor


class HeadVer1(nn.Module):
    """Version 1: each position becomes the average of itself and every position before it.

    Written with explicit loops so the idea is plain: out[b, t] = mean(x[b, 0..t]).
    It has no parameters, so it cannot choose what to attend to, and the loops are slow.
    """

    def forward(self, x):
        B, T, C = x.shape
        rows = []
        for b in range(B):
            averages = [x[b, : t + 1].mean(0) for t in range(T)]  # T vectors of (C,)
            rows.append(tensor.stack(averages))  # (T, C)
        return tensor.stack(rows)  # (B, T, C)


class HeadVer2(nn.Module):
    """Version 2: the same average as one matrix multiplication.

    Row t of a lower-triangular matrix of ones, divided by its sum, holds weights
    1/(t+1) on positions 0..t: multiplying it by x averages the past for every t at once.
    """

    def forward(self, x):
        B, T, C = x.shape
        weights = tensor.tril(tensor.ones(T, T, device=x.device, dtype=x.dtype))
        weights = weights / weights.sum(1, keepdim=True)  # (T, T), rows sum to 1
        return weights @ x  # (T, T) @ (B, T, C) -> (B, T, C)


class HeadVer3(nn.Module):
    """Version 3: the same average through a softmax over masked scores.

    Scores of 0 for the past and -inf for the future give, after softmax, equal weights
    on the past and exactly 0 on the future. The point of the rewrite: scores need not
    stay 0; in version 4 they come from the data. The last weights are kept as `.wei`.
    """

    def forward(self, x):
        B, T, C = x.shape
        future = tensor.tril(tensor.ones(T, T, device=x.device)) == 0
        scores = tensor.zeros(T, T, device=x.device, dtype=x.dtype).masked_fill(future, float("-inf"))
        self.wei = F.softmax(scores, dim=-1)  # (T, T)
        return self.wei @ x  # (B, T, C)


class HeadVer4(nn.Module):
    """Version 4: one head of self-attention; the weights now come from the data.

    Each position emits a query ("what am I looking for") and a key ("what do I
    contain"); the score of position t for position s is q_t . k_s. Positions mix
    their values v by the softmax of those scores over the past.

    The course scales the scores by C**-0.5, C the width of the input x (the
    embedding size). The paper (and nn.MultiHeadAttention, and GPT) scale by
    head_size**-0.5 instead: the two agree for one head of the full width, but with
    several heads the course's scores have variance head_size / C instead of 1
    (docs/lessons.md, "The course and the paper").

    forward(x, test=True) replaces q, k, v with standard-normal draws of x's shape
    (B, T, C), for the variance experiment: unscaled, the scores have variance C;
    scaled, 1. `.var` keeps the variance of the scaled scores and `.wei` the attention
    weights of the last call, as detached tensors. `scaled=False` drops the scaling.
    """

    def __init__(self, block_size, embed_size, head_size, *, scaled=True):
        super().__init__()
        self.head_size, self.scaled = head_size, scaled
        self.key = nn.Linear(embed_size, head_size, bias=False)
        self.query = nn.Linear(embed_size, head_size, bias=False)
        self.value = nn.Linear(embed_size, head_size, bias=False)
        self.register_buffer("tril", tensor.tril(tensor.ones(block_size, block_size)))

    def forward(self, x, test=False):
        B, T, C = x.shape
        if test:
            q, k, v = (tensor.randn(B, T, C, device=x.device, dtype=x.dtype) for _ in range(3))
        else:
            q, k, v = self.query(x), self.key(x), self.value(x)  # (B, T, head_size) each
        wei = q @ k.transpose(-2, -1)  # (B, T, T)
        if self.scaled:
            wei = wei * C**-0.5
        self.var = wei.var().detach()
        wei = wei.masked_fill(self.tril[:T, :T] == 0, float("-inf"))
        wei = F.softmax(wei, dim=-1)  # (B, T, T)
        self.wei = wei.detach()
        return wei @ v  # (B, T, head_size)


class MultiHeadVer1(nn.Module):
    """Several heads side by side, each of size embed_size // n_heads, concatenated and projected.

    Each head can attend to something different (one to the previous vowel, one to
    the start of the word...) at the same total width, hence the same parameter count.
    """

    def __init__(self, block_size, embed_size, n_heads):
        super().__init__()
        head_size = embed_size // n_heads
        self.heads = nn.ModuleList([HeadVer4(block_size, embed_size, head_size) for _ in range(n_heads)])
        self.proj = nn.Linear(head_size * n_heads, embed_size)

    def forward(self, x):
        return self.proj(tensor.cat([head(x) for head in self.heads], dim=-1))  # (B, T, C)


class MultiHeadVer2(nn.Module):
    """The same function as MultiHeadVer1, with every head computed at once.

    One Linear(C, C) per role instead of one small Linear per head: its output is
    the heads' outputs side by side, so a reshape to (B, T, heads, head_size) and a
    transpose give every head its own slice, and one batched matmul attends all of them.
    The scores are scaled by C**-0.5 as in HeadVer4 (the course's choice, not the paper's).
    """

    def __init__(self, block_size, embed_size, n_heads):
        super().__init__()
        self.n_heads, self.head_size = n_heads, embed_size // n_heads
        self.query = nn.Linear(embed_size, embed_size, bias=False)
        self.key = nn.Linear(embed_size, embed_size, bias=False)
        self.value = nn.Linear(embed_size, embed_size, bias=False)
        self.proj = nn.Linear(embed_size, embed_size)
        self.register_buffer("tril", tensor.tril(tensor.ones(block_size, block_size)))

    def _split(self, x):
        B, T, C = x.shape
        return x.reshape(B, T, self.n_heads, self.head_size).transpose(1, 2)  # (B, heads, T, head_size)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        scores = q @ k.transpose(-2, -1) * C**-0.5  # (B, heads, T, T), the course's scaling, as HeadVer4
        scores = scores.masked_fill(self.tril[:T, :T] == 0, float("-inf"))
        out = F.softmax(scores, dim=-1) @ v  # (B, heads, T, head_size)
        return self.proj(out.transpose(1, 2).reshape(B, T, C))  # heads side by side again: (B, T, C)
