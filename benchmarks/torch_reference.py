"""The benchmark's GPT written in PyTorch, for side-by-side timing. Imported only when torch is.

Same architecture as tinygrad_gpt.GPT: token + position embeddings, pre-LN blocks of
multi-head causal attention (separate query/key/value Linear layers, fused attention)
and a 4x ReLU feed-forward, a final LayerNorm, lm_head, cross-entropy.
"""

import torch
import torch.nn as tnn
import torch.nn.functional as TF


class TorchBlock(tnn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.n_head = n_head
        self.ln1, self.ln2 = tnn.LayerNorm(n_embd), tnn.LayerNorm(n_embd)
        self.query, self.key, self.value = (tnn.Linear(n_embd, n_embd) for _ in range(3))
        self.proj = tnn.Linear(n_embd, n_embd)
        self.ffwd = tnn.Sequential(tnn.Linear(n_embd, 4 * n_embd), tnn.ReLU(), tnn.Linear(4 * n_embd, n_embd))

    def forward(self, x):
        B, T, C = x.shape
        h = self.ln1(x)
        q, k, v = (
            f(h).view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for f in (self.query, self.key, self.value)
        )
        attended = TF.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + self.proj(attended)
        return x + self.ffwd(self.ln2(x))


class TorchGPT(tnn.Module):
    def __init__(self, vocab_size, block_size, n_embd, n_head, n_layer):
        super().__init__()
        self.token_embedding_table = tnn.Embedding(vocab_size, n_embd)
        self.pos_embedding_table = tnn.Embedding(block_size, n_embd)
        self.blocks = tnn.Sequential(*[TorchBlock(n_embd, n_head) for _ in range(n_layer)])
        self.ln_f = tnn.LayerNorm(n_embd)
        self.lm_head = tnn.Linear(n_embd, vocab_size)

    def forward(self, indices, targets):
        B, T = indices.shape
        x = self.token_embedding_table(indices) + self.pos_embedding_table(torch.arange(T, device=indices.device))
        logits = self.lm_head(self.ln_f(self.blocks(x)))
        return TF.cross_entropy(logits.view(B * T, -1), targets.view(B * T))


def make_step(config, device, seed=0):
    """A closure running one training step (forward, backward, AdamW) on fixed random batches."""
    torch.manual_seed(seed)
    model = TorchGPT(config["vocab"], config["block"], config["n_embd"], config["n_head"], config["n_layer"]).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(config["vocab"], (config["batch"], config["block"]), device=device)
    y = torch.randint(config["vocab"], (config["batch"], config["block"]), device=device)

    def step():
        loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        return loss

    return step


def make_matmuls(shapes, rows, device, seed=0):
    """The step's Linear-layer matrix products alone, as benchmarks.suites.build_matmuls, in PyTorch."""
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(shape, generator=generator).to(device)

    activations = {(i, o): (randn(rows, i), randn(rows, o)) for i, o in set(shapes)}
    layers = [(*activations[i, o], randn(o, i)) for i, o in shapes]

    def matmuls():
        for x, g, w in layers:
            x @ w.T, g @ w, g.T @ x
        if device == "cuda":
            torch.cuda.synchronize()

    return matmuls


def num_threads():
    return torch.get_num_threads()
