"""The course's models compute the course's function: a PyTorch transcription of each class, written here from
the course's documented behaviour, exchanges state dicts with ours (strict, both directions) and gives the same outputs.
"""

import math

import numpy as np
import pytest

import nn
import tensor
import tinygrad_gpt as ours
from tests.conformance.oracle import compare

torch = pytest.importorskip("torch")
tnn, tF = torch.nn, torch.nn.functional

# ----- the transcription ---------------------------------------------------------------------------------


class HeadVer4(tnn.Module):
    def __init__(self, block_size, embed_size, head_size):
        super().__init__()
        self.key = tnn.Linear(embed_size, head_size, bias=False)
        self.query = tnn.Linear(embed_size, head_size, bias=False)
        self.value = tnn.Linear(embed_size, head_size, bias=False)
        self.register_buffer("tril", torch.tril(torch.ones(block_size, block_size)))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.query(x), self.key(x), self.value(x)
        wei = q @ k.transpose(-2, -1) * C**-0.5  # the course scales by the input width C
        self.var = wei.var().detach()
        wei = tF.softmax(wei.masked_fill(self.tril[:T, :T] == 0, float("-inf")), dim=-1)
        self.wei = wei.detach()
        return wei @ v


class MultiHeadVer1(tnn.Module):
    def __init__(self, block_size, embed_size, n_heads):
        super().__init__()
        head_size = embed_size // n_heads
        self.heads = tnn.ModuleList([HeadVer4(block_size, embed_size, head_size) for _ in range(n_heads)])
        self.proj = tnn.Linear(head_size * n_heads, embed_size)

    def forward(self, x):
        return self.proj(torch.cat([h(x) for h in self.heads], dim=-1))


class MultiHeadVer2(tnn.Module):
    def __init__(self, block_size, embed_size, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.query = tnn.Linear(embed_size, embed_size, bias=False)
        self.key = tnn.Linear(embed_size, embed_size, bias=False)
        self.value = tnn.Linear(embed_size, embed_size, bias=False)
        self.proj = tnn.Linear(embed_size, embed_size)
        self.register_buffer("tril", torch.tril(torch.ones(block_size, block_size)))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (
            f(x).view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2) for f in (self.query, self.key, self.value)
        )
        wei = q @ k.transpose(-2, -1) * C**-0.5
        wei = tF.softmax(wei.masked_fill(self.tril[:T, :T] == 0, float("-inf")), dim=-1)
        return self.proj((wei @ v).transpose(1, 2).reshape(B, T, C))


class FeedForward(tnn.Module):
    def __init__(self, embed_size):
        super().__init__()
        self.net = tnn.Sequential(
            tnn.Linear(embed_size, 4 * embed_size), tnn.ReLU(), tnn.Linear(4 * embed_size, embed_size)
        )

    def forward(self, x):
        return self.net(x)


class LayerNorm(tnn.Module):
    def __init__(self, features, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.gamma = tnn.Parameter(torch.ones(features))
        self.beta = tnn.Parameter(torch.zeros(features))

    def forward(self, x):
        mean, std = x.mean(-1, keepdim=True), x.std(-1, keepdim=True)
        return self.gamma * (x - mean) / (std + self.eps) + self.beta


class BlockVer1(tnn.Module):
    def __init__(self, head, embed_size):
        super().__init__()
        self.head = head
        self.ffwd = FeedForward(embed_size)

    def forward(self, x):
        return self.ffwd(self.head(x))


class BlockVer2(BlockVer1):
    def forward(self, x):
        x = x + self.head(x)
        return x + self.ffwd(x)


class BlockVer3(BlockVer1):
    def __init__(self, head, embed_size):
        super().__init__(head, embed_size)
        self.ln1 = LayerNorm(embed_size)
        self.ln2 = LayerNorm(embed_size)

    def forward(self, x):
        x = self.ln1(x + self.head(x))
        return self.ln2(x + self.ffwd(x))


class BlockVer4(BlockVer3):
    def __init__(self, head, embed_size, dropout):
        super().__init__(head, embed_size)
        self.head = tnn.Sequential(head, tnn.Dropout(dropout))
        self.ffwd = tnn.Sequential(FeedForward(embed_size), tnn.Dropout(dropout))


class GPTVer1(tnn.Module):
    def __init__(self, vocab_size, block_size):
        super().__init__()
        self.token_embedding_table = tnn.Embedding(vocab_size, vocab_size)

    def forward(self, idx):
        return self.token_embedding_table(idx)


class GPTVer2(tnn.Module):
    def __init__(self, contextualizer, vocab_size, block_size, embed_size):
        super().__init__()
        self.token_embedding_table = tnn.Embedding(vocab_size, embed_size)
        self.contextualizer = contextualizer
        self.lm_head = tnn.Linear(embed_size, vocab_size)

    def forward(self, idx):
        return self.lm_head(self.contextualizer(self.token_embedding_table(idx)))


def sinusoids(block_size, embed_size):
    position = torch.arange(block_size, dtype=torch.float32)[:, None]
    frequency = torch.exp(-(torch.arange(embed_size) // 2 * 2).float() / embed_size * math.log(10000.0))
    angles = position * frequency
    return torch.where(torch.arange(embed_size) % 2 == 0, angles.sin(), angles.cos())


class GPTVer3(GPTVer2):
    def __init__(self, contextualizer, vocab_size, block_size, embed_size):
        super().__init__(contextualizer, vocab_size, block_size, embed_size)
        self.register_buffer("pos_encoding", sinusoids(block_size, embed_size), persistent=False)

    def forward(self, idx):
        x = self.token_embedding_table(idx) + self.pos_encoding[: idx.shape[1]]
        return self.lm_head(self.contextualizer(x))


class GPTVer4(tnn.Module):
    def __init__(self, contextualizer, vocab_size, block_size, embed_size):
        super().__init__()
        self.token_embedding_table = tnn.Embedding(vocab_size, embed_size)
        self.pos_embedding_table = tnn.Embedding(block_size, embed_size)
        self.contextualizer = contextualizer
        self.ln_f = tnn.LayerNorm(embed_size)
        self.lm_head = tnn.Linear(embed_size, vocab_size)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.token_embedding_table(idx) + self.pos_embedding_table(torch.arange(T))
        return self.lm_head(self.ln_f(self.contextualizer(x)))


TRANSCRIPTION = {
    name: cls
    for name, cls in globals().items()
    if isinstance(cls, type) and issubclass(cls, tnn.Module) and cls.__module__ == __name__
}

# ----- the cases: one constructor expression, run in both namespaces --------------------------------------

T, C, V = 6, 8, 7
CONTEXTUALIZERS = {
    "HeadVer4_full_width": lambda m: m["HeadVer4"](T, C, C),
    "HeadVer4_narrow": lambda m: m["HeadVer4"](T, C, 4),
    "MultiHeadVer1": lambda m: m["MultiHeadVer1"](T, C, 4),
    "MultiHeadVer2": lambda m: m["MultiHeadVer2"](T, C, 4),
    "FeedForward": lambda m: m["FeedForward"](C),
    "LayerNorm": lambda m: m["LayerNorm"](C),
    "BlockVer1": lambda m: m["BlockVer1"](m["MultiHeadVer2"](T, C, 2), C),
    "BlockVer2": lambda m: m["BlockVer2"](m["MultiHeadVer1"](T, C, 2), C),
    "BlockVer3": lambda m: m["BlockVer3"](m["MultiHeadVer2"](T, C, 4), C),
    "BlockVer4": lambda m: m["BlockVer4"](m["MultiHeadVer2"](T, C, 4), C, 0.2),
}
LANGUAGE_MODELS = {
    "GPTVer1": lambda m: m["GPTVer1"](V, T),
    "GPTVer2": lambda m: m["GPTVer2"](m["HeadVer4"](T, C, C), V, T, C),
    "GPTVer3": lambda m: m["GPTVer3"](m["MultiHeadVer2"](T, C, 2), V, T, C),
    "GPTVer4": lambda m: m["GPTVer4"](
        m["Sequential"](
            m["BlockVer4"](m["MultiHeadVer2"](T, C, 2), C, 0.1), m["BlockVer3"](m["MultiHeadVer1"](T, C, 2), C)
        ),
        V,
        T,
        C,
    ),
}
OURS = {**{name: getattr(ours, name) for name in TRANSCRIPTION}, "Sequential": nn.Sequential}
THEIRS = {**TRANSCRIPTION, "Sequential": tnn.Sequential}


def build(make):
    torch.manual_seed(0)
    theirs = make(THEIRS).double().eval()
    mine = make(OURS).double().eval()
    return theirs, mine


def move(source, target):
    state = {
        k: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v.numpy()
        for k, v in source.state_dict().items()
    }
    if isinstance(target, tnn.Module):
        return target.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=True)
    return target.load_state_dict({k: nn.Parameter(v) for k, v in state.items()}, strict=True)


def run_both(theirs, mine, name, language_model):
    rng = np.random.default_rng(1)
    if language_model:
        idx = rng.integers(0, V, (2, T))
        t_out, o_out = theirs(torch.tensor(idx)), mine.logits(tensor.tensor(idx))
    else:
        x = rng.standard_normal((2, T, C))
        t_out, o_out = theirs(torch.tensor(x)), mine(tensor.tensor(x))
    # GPTVer3's fixed encodings are computed in float32 on each side (a non-persistent buffer, not moved)
    tolerance = dict(rtol=1e-5, atol=1e-7) if name == "GPTVer3" else dict(rtol=1e-9, atol=1e-10)
    compare(t_out, o_out, tolerance, f"{name} output")
    return t_out, o_out


CASES = [pytest.param(n, f, False, id=n) for n, f in CONTEXTUALIZERS.items()] + [
    pytest.param(n, f, True, id=n) for n, f in LANGUAGE_MODELS.items()
]


@pytest.mark.parametrize("name, make, language_model", CASES)
def test_state_dict_keys_and_shapes_match_the_course(name, make, language_model):
    theirs, mine = build(make)
    t_state, o_state = theirs.state_dict(), mine.state_dict()
    assert sorted(o_state) == sorted(t_state)
    assert {k: tuple(v.shape) for k, v in o_state.items()} == {k: tuple(v.shape) for k, v in t_state.items()}


@pytest.mark.parametrize("name, make, language_model", CASES)
def test_course_weights_loaded_into_ours_give_the_course_outputs(name, make, language_model):
    theirs, mine = build(make)
    move(theirs, mine)
    run_both(theirs, mine, name, language_model)


@pytest.mark.parametrize("name, make, language_model", CASES)
def test_our_weights_loaded_into_the_course_give_our_outputs(name, make, language_model):
    theirs, mine = build(make)
    move(mine, theirs)
    run_both(theirs, mine, name, language_model)


@pytest.mark.parametrize("name, make, language_model", CASES)
def test_course_and_our_parameter_gradients_agree(name, make, language_model):
    theirs, mine = build(make)
    move(theirs, mine)
    t_out, o_out = run_both(theirs, mine, name, language_model)
    upstream = np.random.default_rng(2).standard_normal(tuple(t_out.shape))
    (t_out * torch.tensor(upstream)).sum().backward()
    (o_out * tensor.tensor(upstream)).sum().backward()
    o_params = dict(mine.named_parameters())
    for key, p in theirs.named_parameters():
        tolerance = dict(rtol=1e-5, atol=1e-7) if name == "GPTVer3" else dict(rtol=1e-8, atol=1e-10)
        compare(p.grad, o_params[key].grad, tolerance, f"gradient of {key}")


def test_head_ver4_keeps_var_and_wei_as_detached_tensors_as_the_course():
    theirs, mine = build(CONTEXTUALIZERS["HeadVer4_narrow"])
    move(theirs, mine)
    run_both(theirs, mine, "HeadVer4", False)
    compare(theirs.var, mine.var, dict(rtol=1e-9, atol=1e-12), ".var")
    compare(theirs.wei, mine.wei, dict(rtol=1e-9, atol=1e-12), ".wei")


def test_head_ver4_test_mode_draws_q_k_v_of_the_input_shape():
    head = ours.HeadVer4(T, C, 4)
    out = head(tensor.zeros(3, T, C), test=True)
    assert out.shape == (3, T, C) and head.wei.shape == (3, T, T) and head.var.shape == ()
