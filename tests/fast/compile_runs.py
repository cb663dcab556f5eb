"""The training runs the tests of tensor.compile compare: eager and compiled, from one seed.

A replay runs the eager call's array work in the same order, so losses, parameters and random draws are
equal bit for bit; `counts` on a compiled function proves the replay happened.
"""

import math

import numpy as np

import tensor
from benchmarks.compile_equality import training_step
from tensor import optim
from tinygrad_gpt import GPT, GPTConfig

VOCAB, BLOCK, BATCH = 13, 8, 3


def lecture_model(dropout):
    from benchmarks.lecture_model import GPTLanguageModel

    return GPTLanguageModel(VOCAB, BLOCK, 16, 2, 2, dropout)


def gpt_model(dropout):
    return GPT(GPTConfig(vocab_size=VOCAB, block_size=BLOCK, n_embd=16, n_head=2, n_layer=2, dropout=dropout))


def warmup_cosine(steps, warmup=3):
    return lambda t: (t + 1) / (warmup + 1) if t < warmup else 0.5 * (1 + math.cos(math.pi * (t - warmup) / steps))


def batches(count, device="cpu", seed=1):
    rng = np.random.default_rng(seed)
    return [
        tuple(tensor.tensor(rng.integers(VOCAB, size=(BATCH, BLOCK)), device=device) for _ in range(2))
        for _ in range(count)
    ]


def training_run(make_model, compiled, steps=20, device="cpu", seed=0, dropout=0.2):
    """Losses and final parameters of `steps` steps: dropout, AdamW, warm-up + cosine schedule, clipping."""
    tensor.manual_seed(seed)
    model = make_model(dropout).to(device)
    optimizer = optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    scheduler = optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(steps))

    step = training_step(model, optimizer, max_norm=0.5, compiled=compiled)
    losses = []
    for x, y in batches(steps, device):
        losses.append(step(x, y).item())
        scheduler.step()
    parameters = [p.detach().cpu().numpy().copy() for p in model.parameters()]
    return losses, parameters, step


def graph_launches(compiled):
    from tensor.fast.graphs import GraphSegment

    plans = [entry.plan for entry in compiled._entries.values() if entry.plan is not None]
    return [s.launches for plan in plans for s in plan.segments or () if isinstance(s, GraphSegment)]
