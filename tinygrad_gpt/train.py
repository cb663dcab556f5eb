"""The training loop: AdamW, periodic evaluation, progress, atomic checkpoints, exact resume.

A run is reproducible from its seed: batches come from one seeded NumPy generator,
dropout from tensor's seeded generator, evaluation from generators seeded by the
step (so evaluating never shifts the training stream). A checkpoint stores both
generators' states with the model, optimizer and learning-rate schedule, which is why
a resumed run produces the same losses as one that never stopped.

Each step clips the gradients' joint norm (--grad-clip, nanoGPT's 1.0) and takes its
learning rate from a schedule: a linear warm-up over --warmup-steps, then constant or
a cosine decay to --min-lr at the last step (nanoGPT's formula, `learning_rate_factor`).
"""

import glob
import math
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np

import nn
import tensor
from tensor import optim

from .data import Dataset
from .gpt import GPT, GPTConfig
from .options import Range, check_ranges, option
from .tokenizer import BPETokenizer, CharTokenizer, bits_per_character, tokenizer_from_state_dict

CHECKPOINT_FORMAT = 1
CHECKPOINT_NAME = "checkpoint.npz"
LEFTOVER_PATTERN = ".tmp-*.npz"  # the temporary name nn.save writes before its atomic rename


@dataclass
class TrainConfig:
    """How to train; each field is also a `tinygrad-gpt train` option (help text and valid range here)."""

    steps: int = option(3000, "optimizer steps in total", Range(int, 1))
    batch_size: int = option(16, "sequences per step", Range(int, 1))
    learning_rate: float = option(1e-3, "AdamW learning rate", Range(float, 0, 1, low_open=True), flag="--lr")
    weight_decay: float = option(0.01, "AdamW weight decay", Range(float, 0))
    eval_interval: int = option(500, "evaluate (and checkpoint) every N steps", Range(int, 1))
    eval_iters: int = option(20, "batches averaged per evaluation", Range(int, 1))
    seed: int = option(1337, "random seed", Range(int, 0, 2**32 - 1))
    device: str = option("cpu", '"cpu" or "cuda"')
    out_dir: str = option("runs/default", "folder for checkpoint.npz and plots", flag="--out")
    checkpoint_interval: int = option(
        0, "checkpoint every N steps; 0: at every evaluation and at the end", Range(int, 0)
    )
    grad_clip: float = option(
        1.0,
        "clip the gradients' joint L2 norm to this before each step (nanoGPT's 1.0); 0: no clipping",
        Range(float, 0),
    )
    lr_schedule: str = option(
        "constant",
        "learning rate after the warm-up: constant, or cosine (decays to --min-lr at the last step)",
        choices=("constant", "cosine"),
    )
    warmup_steps: int = option(0, "steps of linear warm-up from --lr/(N+1) up to --lr", Range(int, 0))
    min_lr: float = option(1e-4, "the learning rate the cosine schedule ends at; at most --lr", Range(float, 0, 1))
    tokenizer: str = option("char", "char: a token per character; bpe: byte-pair encoding", choices=("char", "bpe"))
    bpe_vocab_size: int = option(
        512,
        "BPE vocabulary size, the 256 bytes plus learned merges (--tokenizer bpe only)",
        Range(int, 257, 65536),
        flag="--vocab-size",
    )
    data_path: str | None = None  # the text file trained on (None: the built-in corpus), so --resume finds it

    def __post_init__(self):
        check_ranges(self)
        if self.lr_schedule == "cosine" and self.min_lr > self.learning_rate:
            raise ValueError(
                f"TrainConfig.min_lr must be at most learning_rate {self.learning_rate}, got {self.min_lr}"
            )

    def checkpoint_path(self):
        return os.path.join(self.out_dir, CHECKPOINT_NAME)


# What a resumed run may change (the rest of a checkpoint, model shape and tokenizer, is fixed).
FIXED_ON_RESUME = ("seed", "out_dir", "data_path", "tokenizer", "bpe_vocab_size")
RESUMABLE = tuple(f.name for f in fields(TrainConfig) if f.name not in FIXED_ON_RESUME)


def learning_rate_factor(config):
    """The schedule as a function of t, the optimizer steps already taken: lr(t) = --lr * factor(t).

    nanoGPT's formula: warm-up (t + 1) / (warmup + 1) for t < warmup; then 1 (constant), or
    cosine: min_lr + (lr - min_lr) * (1 + cos(pi * (t - warmup) / (steps - warmup))) / 2, over lr.
    """
    warmup, decay_steps = config.warmup_steps, max(1, config.steps - config.warmup_steps)
    floor = config.min_lr / config.learning_rate

    def factor(t):
        if t < warmup:
            return (t + 1) / (warmup + 1)
        if config.lr_schedule == "constant":
            return 1.0
        progress = min(1.0, (t - warmup) / decay_steps)
        return floor + (1 - floor) * (1 + math.cos(math.pi * progress)) / 2

    return factor


def build_tokenizer(config, text):
    """The tokenizer a new run trains with: one token per character of text, or BPE merges learned from it."""
    if config.tokenizer == "bpe":
        return BPETokenizer.from_text(text, config.bpe_vocab_size)
    return CharTokenizer.from_text(text)


class CheckpointWriteError(RuntimeError):
    """A checkpoint could not be written; the message says where the previous one is."""


@dataclass
class TrainResult:
    model: GPT
    tokenizer: CharTokenizer | BPETokenizer
    train_losses: list = field(default_factory=list)  # one per step
    learning_rates: list = field(default_factory=list)  # the lr of each step
    evals: list = field(default_factory=list)  # {"step", "train", "val", "val_bpc"} per evaluation
    seconds: float = 0.0
    saved_step: int | None = None  # the step the checkpoint on disk holds
    interrupted: bool = False  # stopped by Ctrl-C (after saving the last finished step)

    @property
    def final_val_loss(self):
        return self.evals[-1]["val"] if self.evals else math.nan

    @property
    def final_val_bpc(self):
        """The last validation loss in bits per character (comparable between tokenizers)."""
        return self.evals[-1].get("val_bpc", math.nan) if self.evals else math.nan


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


def save_checkpoint(path, model, optimizer, scheduler, tokenizer, train_config, step, data_generator, result):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    nn.save(
        {
            "format": CHECKPOINT_FORMAT,
            "model": model.state_dict(),
            "model_config": model.config.to_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "tokenizer": tokenizer.state_dict(),
            "train_config": asdict(train_config),
            "step": step,
            "rng": {
                "data": data_generator.bit_generator.state,
                "tensor": tensor.get_rng_state(),
                "tensor_cuda": tensor.cuda.get_rng_state(),  # dropout's draws on "cuda"
            },
            "train_losses": result.train_losses,
            "learning_rates": result.learning_rates,
            "evals": result.evals,
        },
        path,
    )


def read_checkpoint(path):
    """The checkpoint dict at `path`, checked as a whole: its config, its weights' shapes and its tokenizer agree.

    Returns (checkpoint, model config, tokenizer); a ValueError names the first mismatch.
    """
    checkpoint = nn.load(path)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a tinygrad_gpt training checkpoint")
    absent = [key for key in ("model", "model_config", "tokenizer", "step") if key not in checkpoint]
    if absent:
        raise ValueError(f"{path} is an incomplete checkpoint: it has no {', '.join(absent)}")
    try:
        config = GPTConfig(**checkpoint["model_config"])
        tokenizer = tokenizer_from_state_dict(checkpoint["tokenizer"])
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"{path}: its model config or tokenizer is not valid ({error})") from None
    if tokenizer.vocab_size != config.vocab_size:
        raise ValueError(
            f"{path} is inconsistent: its tokenizer has {tokenizer.vocab_size} tokens, "
            f"but its model config has vocab_size = {config.vocab_size}"
        )
    return checkpoint, config, tokenizer


def load_checkpoint(path, device="cpu"):
    """(checkpoint dict, model, tokenizer): the model rebuilt from its config, on `device`, validated."""
    checkpoint, config, tokenizer = read_checkpoint(path)
    model = GPT(config)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as error:
        raise ValueError(f"{path}: its weights do not match its model config {config}: {error}") from None
    return checkpoint, model.to(device), tokenizer


def remove_leftover_temporaries(folder):
    """Delete the temporary files that killed saves left in `folder` (only nn.save's own names); return them."""
    leftovers = sorted(glob.glob(os.path.join(glob.escape(folder), LEFTOVER_PATTERN)))
    for path in leftovers:
        os.remove(path)
    return leftovers


def estimate_step_memory(model_config, batch_size):
    """About how many bytes one float32 training step needs, from the config alone (nothing allocated).

    Parameters count four times (weight, gradient, AdamW's two moments); activations twice
    (kept for backward, and their gradients): per block about 20 (B, T, C) arrays and
    3 (B, heads, T, T) attention arrays, plus 3 (B, T, vocab) arrays of logits.
    """
    c = model_config
    V, T, C, L, H = c.vocab_size, c.block_size, c.n_embd, c.n_layer, c.n_head
    parameters = 2 * V * C + T * C + L * (12 * C * C + 13 * C) + V + 2 * C
    activations = L * (20 * batch_size * T * C + 3 * batch_size * H * T * T) + 3 * batch_size * T * V
    return 4 * (4 * parameters + 2 * activations)


def available_memory():
    """Bytes of memory the machine can still give (Linux's MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _progress(total, initial, enabled):
    """A tqdm bar when asked for, tqdm is installed (the `train` extra) and stderr is a terminal; else None.

    Without a bar, train() prints a plain line per evaluation, so a redirected log stays readable.
    """
    if not enabled or not sys.stderr.isatty():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)


class _StopAtStepEnd:
    """While training: the first Ctrl-C asks to stop after the current step (so the saved state is whole);
    a second one interrupts at once. Outside the main thread, signals cannot be caught: nothing changes."""

    def __init__(self, log):
        self.requested, self.log, self.previous = False, log, None

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self.previous)
        self.log("Ctrl-C: stopping after this step to save a checkpoint (Ctrl-C again to stop at once)")

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info):
        if self.previous is not None and not self.requested:
            signal.signal(signal.SIGINT, self.previous)


def _check_same_model(model_config, saved, path):
    for name in ("block_size", "n_embd", "n_head", "n_layer", "dropout", "bias", "tie_weights"):
        if getattr(model_config, name) != getattr(saved, name):
            raise ValueError(
                f"a resumed run keeps its model: {name} is {getattr(model_config, name)!r} here, "
                f"but the checkpoint {path} has {getattr(saved, name)!r}"
            )


def train(model_config, train_config, text, resume=False, progress=True, log=print, compile=False):  # noqa: A002
    """Train a GPT on `text`; with resume=True continue the checkpoint in train_config.out_dir.

    On resume, train_config applies as given (steps, learning rate, evaluation settings),
    while the model's shape and the tokenizer are the checkpoint's: a model_config that
    differs is an error. Every save is atomic; if one fails, CheckpointWriteError says
    where the previous checkpoint is. Ctrl-C stops after the current step, saves it, and
    returns a result with interrupted=True. compile=True runs the step through tensor.compile.
    """
    path = train_config.checkpoint_path()
    if resume:
        checkpoint, model, tokenizer = load_checkpoint(path, train_config.device)
        if model_config is not None:
            _check_same_model(model_config, model.config, path)
        model_config = model.config
        start_step = checkpoint["step"]
        if train_config.steps <= start_step:
            raise ValueError(f"the checkpoint {path} is already at step {start_step}: ask for more --steps")
    else:
        tensor.manual_seed(train_config.seed)
        tokenizer = build_tokenizer(train_config, text)
        model_config = GPTConfig(**{**asdict(model_config), "vocab_size": tokenizer.vocab_size})
        model = GPT(model_config).to(train_config.device)
        start_step = 0
    dataset = Dataset(tokenizer.encode(text), model_config.block_size)
    val_tokens = dataset.splits["val"]
    val_characters = len(tokenizer.decode(val_tokens.tolist()))
    optimizer = optim.AdamW(model.parameters(), lr=train_config.learning_rate, weight_decay=train_config.weight_decay)
    data_generator = np.random.default_rng(train_config.seed)
    result = TrainResult(model, tokenizer)
    if resume:
        optimizer.load_state_dict(checkpoint["optimizer"])
        for group in optimizer.param_groups:  # the state dict brought the old run's; this run's apply
            group.update(initial_lr=train_config.learning_rate, weight_decay=train_config.weight_decay)
        data_generator.bit_generator.state = checkpoint["rng"]["data"]
        tensor.set_rng_state(checkpoint["rng"]["tensor"])
        if "tensor_cuda" in checkpoint["rng"]:  # checkpoints from before it was stored have none
            tensor.cuda.set_rng_state(checkpoint["rng"]["tensor_cuda"])
        result.train_losses, result.evals = list(checkpoint["train_losses"]), list(checkpoint["evals"])
        result.learning_rates = list(checkpoint.get("learning_rates", []))
        result.saved_step = start_step
    # The schedule is a function of the step, so a resumed run rebuilds it at the checkpoint's step
    # (its scheduler state says which) from this run's options: a changed --lr or --steps applies.
    steps_taken = checkpoint["scheduler"]["last_epoch"] if resume and "scheduler" in checkpoint else start_step
    if steps_taken != start_step:
        raise ValueError(f"{path} is inconsistent: its scheduler is at step {steps_taken}, its model at {start_step}")
    scheduler = optim.lr_scheduler.LambdaLR(optimizer, learning_rate_factor(train_config), last_epoch=start_step - 1)

    def save(step):
        try:
            save_checkpoint(path, model, optimizer, scheduler, tokenizer, train_config, step, data_generator, result)
        except OSError as error:
            previous = (
                f"the previous checkpoint (step {result.saved_step}) is intact at {path}"
                if result.saved_step is not None
                else "no earlier checkpoint of this run was written"
            )
            raise CheckpointWriteError(
                f"could not write the step-{step} checkpoint to {path} ({error}); {previous}"
            ) from error
        result.saved_step = step

    def train_step(x, y):
        """Forward, backward, clipping and the update: the step that compile=True records and replays."""
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if train_config.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), train_config.grad_clip)
        optimizer.step()
        return loss

    if compile:  # --compile (issue 30): tensor.compile replays the step's array work after its first calls
        train_step = tensor.compile(train_step)
    every = train_config.checkpoint_interval or train_config.eval_interval
    bar = _progress(train_config.steps, start_step, progress)
    tokens_per_step = train_config.batch_size * model_config.block_size
    started = time.perf_counter()
    model.train()
    with _StopAtStepEnd(bar.write if bar is not None else log) as interrupt:
        for step in range(start_step + 1, train_config.steps + 1):
            step_started = time.perf_counter()
            x, y = dataset.batch("train", train_config.batch_size, data_generator, train_config.device)
            result.learning_rates.append(scheduler.get_last_lr()[0])
            loss = train_step(x, y)
            scheduler.step()
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                where = f"step {result.saved_step} is saved in {path}" if result.saved_step else "nothing was saved"
                raise FloatingPointError(
                    f"the loss became {loss_value} at step {step}: lower the learning rate ({where})"
                )
            result.train_losses.append(loss_value)
            tokens_per_second = tokens_per_step / (time.perf_counter() - step_started)
            if bar is not None:
                bar.set_postfix(loss=f"{loss_value:.3f}", tok_s=f"{tokens_per_second:,.0f}", refresh=False)
                bar.update(1)
            if step % train_config.eval_interval == 0 or step == train_config.steps:
                losses = estimate_loss(model, dataset, train_config, step)
                bpc = bits_per_character(losses["val"], len(val_tokens), val_characters)
                result.evals.append({"step": step, **losses, "val_bpc": bpc})
                message = (
                    f"step {step}/{train_config.steps}: train loss {losses['train']:.4f}, "
                    f"val loss {losses['val']:.4f} ({bpc:.3f} bits/char), {tokens_per_second:,.0f} tokens/s"
                )
                (bar.write if bar is not None else log)(message)
            if step % every == 0 or step == train_config.steps or interrupt.requested:
                save(step)
            if interrupt.requested:
                result.interrupted = True
                break
    if bar is not None:
        bar.close()
    result.seconds = time.perf_counter() - started
    return result
