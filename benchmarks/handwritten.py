"""The lecture GPT's training step in plain NumPy, every derivative written out: no autograd.

What does autograd cost? This file is the answer's other half: the same model, forward,
backward and AdamW, as a person would write it with nothing but arrays. Time it beside the
framework (`python -m benchmarks --suite targets`) and the difference is what the graph, the
per-op Python and the general-purpose ops cost.

The model is benchmarks/lecture_model.py's: token + position embeddings, n_layer pre-LN
blocks of causal multi-head self-attention (query/key/value without bias, then a projection)
and a 4x ReLU feed-forward, a final LayerNorm, lm_head and cross-entropy; dropout 0. The
per-head query, key and value weights of the lecture model sit here as the rows of one
(3C, C) matrix per block, so one matrix product computes every head's q, k and v, and one
batched product attends all heads (`from_lecture_state_dict` loads the lecture model's
weights; `lecture_gradient` reads a gradient back under the lecture model's names).

Every parameter and every gradient is a view into one flat buffer: gradients are written in
place (`out=`) into arrays allocated once, and AdamW is a few vectorised operations over the
whole buffer instead of a dozen small ones per parameter.
"""

import math

import numpy as np


def parameter_shapes(vocab_size, block_size, n_embd, n_layer):
    """{name: shape}, in the flat buffer's order. Names follow the lecture model where a
    parameter is one of its parameters; `query_key_value` holds its heads' three Linears."""
    C = n_embd
    shapes = {"token_embedding_table.weight": (vocab_size, C), "position_embedding_table.weight": (block_size, C)}
    for i in range(n_layer):
        block = f"blocks.{i}."
        shapes.update(
            {
                block + "ln1.weight": (C,),
                block + "ln1.bias": (C,),
                block + "sa.query_key_value.weight": (3 * C, C),  # rows: every head's query, key, value
                block + "sa.proj.weight": (C, C),
                block + "sa.proj.bias": (C,),
                block + "ln2.weight": (C,),
                block + "ln2.bias": (C,),
                block + "ffwd.net.0.weight": (4 * C, C),
                block + "ffwd.net.0.bias": (4 * C,),
                block + "ffwd.net.2.weight": (C, 4 * C),
                block + "ffwd.net.2.bias": (C,),
            }
        )
    shapes.update(
        {"ln_f.weight": (C,), "ln_f.bias": (C,), "lm_head.weight": (vocab_size, C), "lm_head.bias": (vocab_size,)}
    )
    return shapes


def views(flat, shapes):
    """{name: a view of `flat` with that shape}, consecutive, in order."""
    out, start = {}, 0
    for name, shape in shapes.items():
        size = math.prod(shape)
        out[name] = flat[start : start + size].reshape(shape)
        start += size
    return out


# ----- the row reductions and the three normalising layers, forward and backward ----------------------


def row_sum(x):
    """x.sum(-1, keepdims=True), as a matrix-vector product: BLAS sums short rows several times
    faster than NumPy's reduction along the last axis."""
    return (x @ np.ones(x.shape[-1], dtype=x.dtype))[..., None]


def layer_norm(x, weight, bias, eps=1e-5):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over each row of x (N, C).
    Returns y and what backward needs: x_hat (the normalised x) and 1 / sqrt(var + eps)."""
    C = x.shape[-1]
    x_hat = x - row_sum(x) / C
    inv_std = 1.0 / np.sqrt(row_sum(x_hat * x_hat) / C + eps)
    x_hat *= inv_std
    return x_hat * weight + bias, (x_hat, inv_std)


def layer_norm_backward(dy, saved, weight, d_weight, d_bias):
    """dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps), with g = dy * weight;
    d_weight = sum over rows of dy * x_hat and d_bias = sum of dy, written into their buffers."""
    x_hat, inv_std = saved
    C = dy.shape[-1]
    np.sum(dy * x_hat, axis=0, out=d_weight)
    np.sum(dy, axis=0, out=d_bias)
    g = dy * weight
    dx = g - row_sum(g) / C
    dx -= x_hat * (row_sum(g * x_hat) / C)
    dx *= inv_std
    return dx


def softmax_in_place(scores):
    """softmax over the last axis, overwriting scores: subtract the row max (so exp cannot
    overflow), exponentiate, divide by the row sum."""
    scores -= scores.max(-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= row_sum(scores)
    return scores


def softmax_backward(dp, p):
    """ds = p * (dp - sum(dp * p)) over the last axis (the Jacobian of softmax, applied to dp)."""
    ds = dp - row_sum(dp * p)
    ds *= p
    return ds


def cross_entropy(logits, targets):
    """Mean of -log softmax(logits)[target] over rows, and its gradient (softmax - one_hot) / N."""
    N = logits.shape[0]
    rows = np.arange(N)
    shifted = logits - logits.max(-1, keepdims=True)
    probs = np.exp(shifted)
    sums = row_sum(probs)
    loss = float(np.mean(np.log(sums[:, 0]) - shifted[rows, targets]))
    probs /= sums
    probs[rows, targets] -= 1.0
    probs /= N
    return loss, probs


# ----- the model ---------------------------------------------------------------------------------------


class HandwrittenGPT:
    """The lecture GPT's parameters, gradients and AdamW state as flat buffers, and its training step."""

    def __init__(self, vocab_size, block_size, n_embd, n_head, n_layer, dtype=np.float32, seed=0):
        if n_embd % n_head:
            raise ValueError(f"n_embd ({n_embd}) must be divisible by n_head ({n_head})")
        self.block_size, self.n_embd, self.n_head, self.n_layer = block_size, n_embd, n_head, n_layer
        self.shapes = parameter_shapes(vocab_size, block_size, n_embd, n_layer)
        size = sum(math.prod(s) for s in self.shapes.values())
        self.flat_params = np.zeros(size, dtype=dtype)
        self.flat_grads = np.zeros(size, dtype=dtype)
        self.params, self.grads = views(self.flat_params, self.shapes), views(self.flat_grads, self.shapes)
        # the lecture model's initialisation: weights normal(0, 0.02), biases 0, LayerNorm weights 1
        rng = np.random.default_rng(seed)
        for name, p in self.params.items():
            if name.split(".")[-2] in ("ln1", "ln2", "ln_f"):
                p[...] = 1.0 if name.endswith("weight") else 0.0
            elif name.endswith("weight"):
                p[...] = rng.normal(0.0, 0.02, p.shape)
        # each block's parameters and gradients under their names inside the block ("ln1.weight", ...)
        self.block_params = [self._block_views(self.params, i) for i in range(n_layer)]
        self.block_grads = [self._block_views(self.grads, i) for i in range(n_layer)]
        self.adam_m, self.adam_v = np.zeros_like(self.flat_params), np.zeros_like(self.flat_params)
        self.adam_steps = 0

    @staticmethod
    def _block_views(arrays, i):
        prefix = f"blocks.{i}."
        return {name[len(prefix) :]: value for name, value in arrays.items() if name.startswith(prefix)}

    # --- weights shared with the lecture model ---

    def lecture_names(self):
        """(lecture model name, our name, rows of ours) for every parameter of the lecture model."""
        C, hs = self.n_embd, self.n_embd // self.n_head
        for name, shape in self.shapes.items():
            if not name.endswith("query_key_value.weight"):
                yield name, name, slice(0, shape[0])
                continue
            prefix = name[: -len("query_key_value.weight")]
            for role_index, role in enumerate(("query", "key", "value")):
                for h in range(self.n_head):
                    start = role_index * C + h * hs
                    yield f"{prefix}heads.{h}.{role}.weight", name, slice(start, start + hs)

    def load_lecture_state_dict(self, state_dict):
        """Copy the lecture model's weights (a {name: array} state dict; its `tril` buffers are skipped)."""
        expected = {lecture for lecture, _, _ in self.lecture_names()}
        given = {name for name in state_dict if not name.endswith(".tril")}
        if given != expected:
            raise ValueError(
                f"state dict does not match the model: missing {sorted(expected - given)}, unexpected {sorted(given - expected)}"
            )
        for lecture, ours, rows in self.lecture_names():
            value = np.asarray(state_dict[lecture])
            if value.shape != self.params[ours][rows].shape:
                raise ValueError(f"{lecture}: shape {value.shape}, expected {self.params[ours][rows].shape}")
            self.params[ours][rows] = value

    def lecture_gradient(self, lecture_name):
        """The gradient of the lecture model's parameter `lecture_name`, from the last backward."""
        for lecture, ours, rows in self.lecture_names():
            if lecture == lecture_name:
                return self.grads[ours][rows]
        raise KeyError(f"no parameter {lecture_name!r} in the lecture model")

    # --- forward and backward ---

    def loss_and_gradients(self, indices, targets):
        """Forward and backward for integer arrays indices, targets (B, T): returns the mean
        cross-entropy and leaves every parameter's gradient in self.grads."""
        p, g = self.params, self.grads
        B, T = indices.shape
        C, H = self.n_embd, self.n_head
        hs, N = C // H, B * T
        future = np.triu(np.full((T, T), -np.inf, dtype=self.flat_params.dtype), k=1)  # added to the scores

        # forward: x is the residual stream, (N, C); each block saves what its backward needs
        x = (p["token_embedding_table.weight"][indices] + p["position_embedding_table.weight"][:T]).reshape(N, C)
        saved = []
        for i in range(self.n_layer):
            w = self.block_params[i]
            a, ln1 = layer_norm(x, w["ln1.weight"], w["ln1.bias"])
            qkv = (a @ w["sa.query_key_value.weight"].T).reshape(B, T, 3, H, hs)
            q, k, v = qkv.transpose(2, 0, 3, 1, 4)  # each (B, H, T, hs): every head at once
            att = q @ k.transpose(0, 1, 3, 2)  # (B, H, T, T)
            att *= hs**-0.5
            att += future
            softmax_in_place(att)
            heads = (att @ v).transpose(0, 2, 1, 3).reshape(N, C)  # the heads side by side, as torch.cat
            x = x + heads @ w["sa.proj.weight"].T + w["sa.proj.bias"]
            b, ln2 = layer_norm(x, w["ln2.weight"], w["ln2.bias"])
            hidden = b @ w["ffwd.net.0.weight"].T
            hidden += w["ffwd.net.0.bias"]
            np.maximum(hidden, 0, out=hidden)  # ReLU, in place: hidden > 0 is also its derivative's mask
            x = x + hidden @ w["ffwd.net.2.weight"].T + w["ffwd.net.2.bias"]
            saved.append((a, ln1, q, k, v, att, heads, b, ln2, hidden))
        z, ln_f = layer_norm(x, p["ln_f.weight"], p["ln_f.bias"])
        logits = z @ p["lm_head.weight"].T + p["lm_head.bias"]
        loss, d_logits = cross_entropy(logits, targets.reshape(N))

        # backward, in reverse; every weight gradient is written into its view of flat_grads
        np.matmul(d_logits.T, z, out=g["lm_head.weight"])
        np.sum(d_logits, axis=0, out=g["lm_head.bias"])
        dx = layer_norm_backward(
            d_logits @ p["lm_head.weight"], ln_f, p["ln_f.weight"], g["ln_f.weight"], g["ln_f.bias"]
        )
        for i in reversed(range(self.n_layer)):
            w, a, ln1, q, k, v, att, heads, b, ln2, hidden = self.block_params[i], *saved[i]
            gw = self.block_grads[i]
            # feed-forward: x = x + relu(b W1^T + b1) W2^T + b2
            np.matmul(dx.T, hidden, out=gw["ffwd.net.2.weight"])
            np.sum(dx, axis=0, out=gw["ffwd.net.2.bias"])
            d_hidden = dx @ w["ffwd.net.2.weight"]
            d_hidden *= hidden > 0
            np.matmul(d_hidden.T, b, out=gw["ffwd.net.0.weight"])
            np.sum(d_hidden, axis=0, out=gw["ffwd.net.0.bias"])
            dx = dx + layer_norm_backward(
                d_hidden @ w["ffwd.net.0.weight"], ln2, w["ln2.weight"], gw["ln2.weight"], gw["ln2.bias"]
            )
            # attention: x = x + heads W_proj^T + b_proj, heads = softmax(q k^T / sqrt(hs) + future) v
            np.matmul(dx.T, heads, out=gw["sa.proj.weight"])
            np.sum(dx, axis=0, out=gw["sa.proj.bias"])
            d_heads = (dx @ w["sa.proj.weight"]).reshape(B, T, H, hs).transpose(0, 2, 1, 3)  # (B, H, T, hs)
            d_qkv = np.empty((B, T, 3, H, hs), dtype=dx.dtype)
            dq, dk, dv = d_qkv.transpose(2, 0, 3, 1, 4)  # views: writing them fills d_qkv
            np.matmul(att.transpose(0, 1, 3, 2), d_heads, out=dv)
            d_scores = softmax_backward(d_heads @ v.transpose(0, 1, 3, 2), att)
            d_scores *= hs**-0.5
            np.matmul(d_scores, k, out=dq)
            np.matmul(d_scores.transpose(0, 1, 3, 2), q, out=dk)
            d_qkv = d_qkv.reshape(N, 3 * C)
            np.matmul(d_qkv.T, a, out=gw["sa.query_key_value.weight"])
            dx = dx + layer_norm_backward(
                d_qkv @ w["sa.query_key_value.weight"], ln1, w["ln1.weight"], gw["ln1.weight"], gw["ln1.bias"]
            )
        # embeddings: each row of the table collects the gradients of the positions that used it
        dx = dx.reshape(B, T, C)
        g["token_embedding_table.weight"][...] = 0.0
        np.add.at(g["token_embedding_table.weight"], indices, dx)
        g["position_embedding_table.weight"][...] = 0.0
        np.sum(dx, axis=0, out=g["position_embedding_table.weight"][:T])
        return loss

    def adamw_step(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        """AdamW (PyTorch's formula and defaults) over every parameter at once, on the flat buffers:
        p *= 1 - lr wd; m, v = moving averages of g and g^2; p -= lr / bc1 * m / (sqrt(v / bc2) + eps)."""
        beta1, beta2 = betas
        self.adam_steps += 1
        bias_correction1 = 1 - beta1**self.adam_steps
        bias_correction2 = 1 - beta2**self.adam_steps
        p, grad, m, v = self.flat_params, self.flat_grads, self.adam_m, self.adam_v
        p *= 1 - lr * weight_decay
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        denominator = np.sqrt(v)
        denominator *= 1 / math.sqrt(bias_correction2)
        denominator += eps
        update = np.divide(m, denominator, out=denominator)
        update *= lr / bias_correction1
        p -= update

    def train_step(self, indices, targets, lr=1e-3):
        """One training step: forward, backward, AdamW. Returns the loss."""
        loss = self.loss_and_gradients(indices, targets)
        self.adamw_step(lr=lr)
        return loss
