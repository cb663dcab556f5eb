"""The project's GPT moves to PyTorch and back through a .safetensors file and computes the same thing.

The PyTorch twin below (TorchGPT) is the architecture of tinygrad_gpt/gpt.py written in PyTorch
with the same module names, so the state dicts match key for key and load with strict=True.
The README's "Take your model to PyTorch" points here: copy it into a PyTorch program.
"""

import numpy as np
import pytest

import nn
import tensor
from tinygrad_gpt.gpt import GPT, GPTConfig

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")
F = torch.nn.functional

TOLERANCE = 2e-5  # float32 logits of order 1, after 4 blocks of different summation orders


class TorchMultiHeadAttention(torch.nn.Module):
    def __init__(self, config):
        super().__init__()
        self.n_head = config.n_head
        self.query = torch.nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.key = torch.nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.value = torch.nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.proj = torch.nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = torch.nn.Dropout(config.dropout)

    def forward(self, x):
        B, T, C = x.shape

        def split_heads(y):
            return y.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, heads, T, head_size)

        q, k, v = split_heads(self.query(x)), split_heads(self.key(x)), split_heads(self.value(x))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.resid_dropout(self.proj(out.transpose(1, 2).reshape(B, T, C)))


class TorchFeedForward(torch.nn.Module):
    def __init__(self, n_embd):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(n_embd, 4 * n_embd), torch.nn.ReLU(), torch.nn.Linear(4 * n_embd, n_embd)
        )

    def forward(self, x):
        return self.net(x)


class TorchBlock(torch.nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln1 = torch.nn.LayerNorm(config.n_embd)
        self.sa = TorchMultiHeadAttention(config)
        self.ln2 = torch.nn.LayerNorm(config.n_embd)
        self.ffwd = TorchFeedForward(config.n_embd)
        self.dropout = torch.nn.Dropout(config.dropout)

    def forward(self, x):
        x = x + self.sa(self.ln1(x))
        return x + self.dropout(self.ffwd(self.ln2(x)))


class TorchGPT(torch.nn.Module):
    def __init__(self, config):
        super().__init__()
        self.token_embedding_table = torch.nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_embedding_table = torch.nn.Embedding(config.block_size, config.n_embd)
        self.dropout = torch.nn.Dropout(config.dropout)
        self.blocks = torch.nn.ModuleList([TorchBlock(config) for _ in range(config.n_layer)])
        self.ln_f = torch.nn.LayerNorm(config.n_embd)
        bias = config.bias and not config.tie_weights
        self.lm_head = torch.nn.Linear(config.n_embd, config.vocab_size, bias=bias)
        if config.tie_weights:
            self.lm_head.weight = self.token_embedding_table.weight

    def forward(self, indices, targets=None):
        T = indices.shape[1]
        x = self.token_embedding_table(indices) + self.pos_embedding_table(torch.arange(T, device=indices.device))
        x = self.dropout(x)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))  # (B, T, vocab)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def batch(config, seed=0):
    generator = np.random.default_rng(seed)
    return [generator.integers(0, config.vocab_size, size=(3, config.block_size)) for _ in range(2)]


def project_logits_and_loss(model, indices, targets):
    model.eval()
    with tensor.no_grad():
        logits, loss = model(tensor.tensor(indices), tensor.tensor(targets))
    return logits.numpy(), loss.item()


def torch_logits_and_loss(model, indices, targets):
    model.eval()
    with torch.no_grad():
        logits, loss = model(torch.from_numpy(indices), torch.from_numpy(targets))
    return logits.numpy(), loss.item()


def randomize_torch(model):
    """Move every weight away from its initialisation, so LayerNorms and biases matter too."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))


def max_logits_difference(config, path):
    """Save the project's GPT to `path`, load it into the twin with strict=True; the largest logits difference."""
    model = GPT(config)
    for p in model.parameters():  # away from zero biases and unit LayerNorm weights
        p._array += 0.1 * np.random.default_rng(2).standard_normal(p.shape).astype(p.dtype)
    nn.save(model.state_dict(), path)
    twin = TorchGPT(config)
    if config.tie_weights:
        safetensors_torch.load_model(twin, path, strict=True)  # knows the file stores a tied weight once
    else:
        twin.load_state_dict(safetensors_torch.load_file(path), strict=True)
    indices, targets = batch(config)
    ours, our_loss = project_logits_and_loss(model, indices, targets)
    theirs, their_loss = torch_logits_and_loss(twin, indices, targets)
    assert our_loss == pytest.approx(their_loss, rel=1e-5)
    return np.abs(ours - theirs).max()


def test_project_gpt_loads_strictly_into_the_pytorch_twin_with_the_same_logits_and_loss(tmp_path):
    assert max_logits_difference(GPTConfig(), tmp_path / "gpt.safetensors") < TOLERANCE


def test_a_tied_project_gpt_loads_into_a_tied_pytorch_twin(tmp_path):
    config = GPTConfig(vocab_size=50, block_size=16, n_embd=32, n_head=2, n_layer=2, tie_weights=True)
    assert max_logits_difference(config, tmp_path / "tied.safetensors") < TOLERANCE


def test_pytorch_twin_weights_load_strictly_into_the_project_gpt(tmp_path):
    config = GPTConfig(vocab_size=50, block_size=16, n_embd=32, n_head=4, n_layer=2)
    twin = TorchGPT(config)
    randomize_torch(twin)
    safetensors_torch.save_file(twin.state_dict(), tmp_path / "twin.safetensors")
    model = GPT(config)
    model.load_state_dict(nn.load(tmp_path / "twin.safetensors"), strict=True)
    indices, targets = batch(config, seed=3)
    ours, our_loss = project_logits_and_loss(model, indices, targets)
    theirs, their_loss = torch_logits_and_loss(twin, indices, targets)
    np.testing.assert_allclose(ours, theirs, atol=TOLERANCE, rtol=0)
    assert our_loss == pytest.approx(their_loss, rel=1e-5)


def test_a_tied_pytorch_twin_saved_by_save_model_comes_back_tied(tmp_path):
    config = GPTConfig(vocab_size=50, block_size=16, n_embd=32, n_head=2, n_layer=1, tie_weights=True)
    twin = TorchGPT(config)
    randomize_torch(twin)
    safetensors_torch.save_model(twin, tmp_path / "twin.safetensors")  # stores the shared weight once
    model = GPT(config)
    model.load_state_dict(nn.load(tmp_path / "twin.safetensors"), strict=True)
    assert model.lm_head.weight is model.token_embedding_table.weight
    np.testing.assert_array_equal(model.lm_head.weight.detach().numpy(), twin.lm_head.weight.detach().numpy())
    indices, targets = batch(config, seed=4)
    np.testing.assert_allclose(
        project_logits_and_loss(model, indices, targets)[0],
        torch_logits_and_loss(twin, indices, targets)[0],
        atol=TOLERANCE,
        rtol=0,
    )
