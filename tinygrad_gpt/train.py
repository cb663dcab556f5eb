"""The training loop: AdamW, periodic evaluation, progress, atomic checkpoints, exact resume.

A run is reproducible from its seed: batches come from one seeded NumPy generator,
dropout from tensor's seeded generator, evaluation from generators seeded by the
step (so evaluating never shifts the training stream). A checkpoint stores both
generators' states with the model and optimizer, which is why a resumed run
produces the same losses as one that never stopped.
"""

import math
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np

import nn
import tensor
from tensor import optim

from .data import Dataset
from .gpt import GPT, GPTConfig
from .tokenizer import CharTokenizer

CHECKPOINT_FORMAT = 1


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 0.01  # AdamW's default
    eval_interval: int = 100
    eval_iters: int = 10
    seed: int = 1337
    device: str = "cpu"
    out_dir: str = "runs/default"
    checkpoint_interval: int = 0  # 0: at every evaluation and at the end

    def checkpoint_path(self):
        return os.path.join(self.out_dir, "checkpoint.npz")


@dataclass
class TrainResult:
    model: GPT
    tokenizer: CharTokenizer
    train_losses: list = field(default_factory=list)  # one per step
    evals: list = field(default_factory=list)  # {"step", "train", "val"} per evaluation
    seconds: float = 0.0

    @property
    def final_val_loss(self):
        return self.evals[-1]["val"] if self.evals else math.nan


@tensor.no_grad()
def estimate_loss(model, dataset, config, step):
    """Mean loss over eval_iters batches of each split, in eval mode (no dropout)."""
    model.eval()
    losses = {}
    for split in ("train", "val"):
        generator = np.random.default_rng([config.seed, step, split == "val"])
        total = 0.0
        for _ in range(config.eval_iters):
            x, y = dataset.batch(split, config.batch_size, generator, config.device)
            total += model(x, y)[1].item()
        losses[split] = total / config.eval_iters
    model.train()
    return losses


def save_checkpoint(path, model, optimizer, tokenizer, train_config, step, data_generator, result):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    nn.save(
        {
            "format": CHECKPOINT_FORMAT,
            "model": model.state_dict(),
            "model_config": model.config.to_dict(),
            "optimizer": optimizer.state_dict(),
            "tokenizer": tokenizer.state_dict(),
            "train_config": asdict(train_config),
            "step": step,
            "rng": {
                "data": data_generator.bit_generator.state,
                "tensor": tensor.get_rng_state(),
                "tensor_cuda": tensor.cuda.get_rng_state(),  # dropout's draws on "cuda"
            },
            "train_losses": result.train_losses,
            "evals": result.evals,
        },
        path,
    )


def load_checkpoint(path, device="cpu"):
    """(checkpoint dict, model, tokenizer): the model rebuilt from its config, on `device`."""
    checkpoint = nn.load(path)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a tinygrad_gpt training checkpoint")
    model = GPT(GPTConfig(**checkpoint["model_config"]))
    model.load_state_dict(checkpoint["model"])
    model.to(device)
    return checkpoint, model, CharTokenizer.from_state_dict(checkpoint["tokenizer"])


def _progress(total, initial, enabled):
    """A tqdm bar when tqdm is installed (the `train` extra), else None (plain lines are printed)."""
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)


def train(model_config, train_config, text, resume=False, progress=True, log=print):
    """Train a GPT on `text`; with resume=True continue the checkpoint in train_config.out_dir."""
    if resume:
        checkpoint, model, tokenizer = load_checkpoint(train_config.checkpoint_path(), train_config.device)
        model_config = model.config
        start_step = checkpoint["step"]
    else:
        tensor.manual_seed(train_config.seed)
        tokenizer = CharTokenizer.from_text(text)
        model_config = GPTConfig(**{**asdict(model_config), "vocab_size": tokenizer.vocab_size})
        model = GPT(model_config).to(train_config.device)
        start_step = 0
    dataset = Dataset(tokenizer.encode(text), model_config.block_size)
    optimizer = optim.AdamW(model.parameters(), lr=train_config.learning_rate, weight_decay=train_config.weight_decay)
    data_generator = np.random.default_rng(train_config.seed)
    result = TrainResult(model, tokenizer)
    if resume:
        optimizer.load_state_dict(checkpoint["optimizer"])
        data_generator.bit_generator.state = checkpoint["rng"]["data"]
        tensor.set_rng_state(checkpoint["rng"]["tensor"])
        if "tensor_cuda" in checkpoint["rng"]:  # checkpoints from before it was stored have none
            tensor.cuda.set_rng_state(checkpoint["rng"]["tensor_cuda"])
        result.train_losses, result.evals = list(checkpoint["train_losses"]), list(checkpoint["evals"])

    every = train_config.checkpoint_interval or train_config.eval_interval
    bar = _progress(train_config.steps, start_step, progress)
    tokens_per_step = train_config.batch_size * model_config.block_size
    started = time.perf_counter()
    model.train()
    for step in range(start_step + 1, train_config.steps + 1):
        step_started = time.perf_counter()
        x, y = dataset.batch("train", train_config.batch_size, data_generator, train_config.device)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise FloatingPointError(f"the loss became {loss_value} at step {step}: lower the learning rate")
        result.train_losses.append(loss_value)
        tokens_per_second = tokens_per_step / (time.perf_counter() - step_started)
        if bar is not None:
            bar.set_postfix(loss=f"{loss_value:.3f}", tok_s=f"{tokens_per_second:,.0f}", refresh=False)
            bar.update(1)
        if step % train_config.eval_interval == 0 or step == train_config.steps:
            losses = estimate_loss(model, dataset, train_config, step)
            result.evals.append({"step": step, **losses})
            message = f"step {step}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}"
            (bar.write if bar is not None else log)(message)
        if step % every == 0 or step == train_config.steps:
            save_checkpoint(
                train_config.checkpoint_path(), model, optimizer, tokenizer, train_config, step, data_generator, result
            )
    if bar is not None:
        bar.close()
    result.seconds = time.perf_counter() - started
    return result
