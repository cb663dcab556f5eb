"""The fused ops of nn.functional written as compositions of tensor/ primitives.

These are the readable definitions: every line is an op whose gradient the
engine already knows, so they need no backward of their own. The tests prove
that each fused op in nn.functional gives the same values and gradients, and
the benchmarks measure what fusing buys.

The project has three LayerNorms, one formula: tinygrad_gpt.LayerNorm is the course's
module, built step by step from primitives for the lesson; `layer_norm` here is the same
formula as a function, the reference the fused op is tested against; nn.LayerNorm calls
the fused nn.functional.layer_norm, which the GPT trains with because it is faster and
keeps less for backward.
"""

import math

import tensor


def softmax(x, dim):
    return x.softmax(dim)  # Tensor.softmax: shift by the max, exp, divide by the sum


def log_softmax(x, dim):
    return x.log_softmax(dim)


def cross_entropy(logits, targets, ignore_index=-100):
    """Mean over non-ignored rows of -log softmax(logits)[target]."""
    keep = targets != ignore_index
    safe_targets = tensor.where(keep, targets, 0)
    picked = logits.log_softmax(-1)[tensor.arange(logits.shape[0], device=logits.device), safe_targets]
    losses = tensor.where(keep, -picked, 0.0)
    return losses.sum() / keep.sum().item()


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias from primitives: the reference that the fused
    nn.functional.layer_norm (behind nn.LayerNorm) is tested against; tinygrad_gpt.LayerNorm is
    the course's module form of the same steps."""
    dims = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    mean = x.mean(dims, keepdim=True)
    var = x.var(dims, keepdim=True, correction=0)
    xhat = (x - mean) / (var + eps).sqrt()
    return xhat if weight is None else xhat * weight + bias


def gelu(x, approximate="none"):
    """x * Phi(x), Phi the standard normal CDF = (1 + erf(x / sqrt(2))) / 2."""
    if approximate == "tanh":
        return 0.5 * x * (1 + (math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)).tanh())
    return 0.5 * x * (1 + (x / math.sqrt(2)).erf())


def scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=False):
    """softmax(Q K^T / sqrt(d), masked) V, each step a primitive."""
    scores = q @ k.transpose(-2, -1) * (q.shape[-1] ** -0.5)
    if is_causal:
        attn_mask = tensor.tril(tensor.ones(q.shape[-2], k.shape[-2], device=q.device)) > 0
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == tensor.bool else scores + attn_mask
    return scores.softmax(-1) @ v
