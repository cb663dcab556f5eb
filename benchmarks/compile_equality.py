"""Replayed steps against eager steps, for many steps: `python -m benchmarks.compile_equality`.

Trains the lecture GPT (benchmarks/lecture_model.py) and the GPT (tinygrad_gpt/gpt.py) twice from one
seed, eager and through tensor.compile, with dropout, AdamW, a warm-up + cosine schedule and gradient
clipping, on fresh random batches, and prints the largest relative difference between the two runs'
losses over all steps (0 where every step's loss is equal bit for bit). Exits 1 if any step's
difference exceeds --tolerance (issue 30: 1e-5 in float32). --device cuda runs on a GPU, or on the CuPy
stand-in of the tests (tests/support/) with TINYGRAD_GPT_FAKE_CUPY=1; there --dropout 0 replays CUDA graphs
(a capture cannot record a random draw: with dropout the plan replays op by op).

Bit for bit on "cpu" needs the BLAS to run each product on the same number of threads in both runs:
OpenBLAS rounds some products differently on one thread and on two, and tensor/fast/threads.py picks
the count by the machine's load. On a busy machine run it with OPENBLAS_NUM_THREADS=1.
"""

import argparse
import math
import os

import numpy as np

import nn
import tensor
from tensor import optim

from .suites import MODEL_CONFIGS


def make_model(kind, c, dropout):
    if kind == "lecture":
        from .lecture_model import GPTLanguageModel

        return GPTLanguageModel(c["vocab"], c["block"], c["n_embd"], c["n_head"], c["n_layer"], dropout)
    from tinygrad_gpt import GPT, GPTConfig

    config = GPTConfig(
        vocab_size=c["vocab"],
        block_size=c["block"],
        n_embd=c["n_embd"],
        n_head=c["n_head"],
        n_layer=c["n_layer"],
        dropout=dropout,
    )
    return GPT(config)


def training_step(model, optimizer, max_norm, compiled):
    """train.py's step (forward, zero_grad, backward, clipping, AdamW's update), through tensor.compile or not."""

    def train_step(x, y):
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        return loss

    return tensor.compile(train_step) if compiled else train_step


def run(kind, c, steps, device, compiled, dropout=0.1, seed=0):
    """The losses of `steps` training steps, eager or compiled, and the compiled step's call counts."""
    tensor.manual_seed(seed)
    model = make_model(kind, c, dropout).to(device)
    optimizer = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
    warmup = max(1, steps // 10)

    def factor(t):
        return (t + 1) / (warmup + 1) if t < warmup else 0.1 + 0.45 * (1 + math.cos(math.pi * (t - warmup) / steps))

    scheduler = optim.lr_scheduler.LambdaLR(optimizer, factor)

    step = training_step(model, optimizer, max_norm=1.0, compiled=compiled)
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(steps):
        x, y = (tensor.tensor(rng.integers(c["vocab"], size=(c["batch"], c["block"])), device=device) for _ in "xy")
        losses.append(step(x, y).item())
        scheduler.step()
    counts = getattr(step, "counts", None)
    if counts is not None:
        from tensor.fast.graphs import GraphSegment

        plans = [entry.plan for entry in step._entries.values() if entry.plan is not None]
        segments = [s for plan in plans for s in plan.segments or () if isinstance(s, GraphSegment)]
        counts = dict(counts, graph_launches=sum(s.launches for s in segments))
    return np.array(losses), counts


def install_stand_in():
    """TINYGRAD_GPT_FAKE_CUPY=1: "cuda" is the tests' CuPy stand-in, with its cuBLAS for graph captures."""
    from tests.support import fake_cupy
    from tests.support.fake_cupy_cublas import Library

    fake_cupy.install()
    import tensor.fast.cublas

    tensor.fast.cublas._loaded["library"] = Library()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compile_equality", description=__doc__)
    parser.add_argument("--config", default="tiny", choices=sorted(MODEL_CONFIGS))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args(argv)
    if os.environ.get("TINYGRAD_GPT_FAKE_CUPY") == "1":
        install_stand_in()
    worst = 0.0
    for kind in ("lecture", "gpt"):
        eager, _ = run(kind, MODEL_CONFIGS[args.config], args.steps, args.device, False, args.dropout)
        replayed, counts = run(kind, MODEL_CONFIGS[args.config], args.steps, args.device, True, args.dropout)
        difference = np.abs(replayed - eager) / np.abs(eager)
        bitwise = int((replayed == eager).sum())
        print(
            f"{kind} {args.config} on {args.device}, {args.steps} steps, dropout {args.dropout}: calls {counts}; "
            f"largest relative difference {difference.max():.3g}; equal bit for bit at {bitwise}/{args.steps} steps; "
            f"loss {eager[0]:.4f} -> {eager[-1]:.4f}"
        )
        worst = max(worst, difference.max())
    raise SystemExit(0 if worst <= args.tolerance else 1)


if __name__ == "__main__":
    main()
