"""The programs `python -m benchmarks programs` times: which files of a checkout each needs, how it is shortened,
and how it is started. Their code is not ours: the benchmark reads it from checkouts the user names.

Each program runs as its authors run it, with one documented shortening, the same textual patch for PyTorch and
for us: its own hyperparameter lines set to `$steps` training steps, an evaluation every `$eval_interval` steps
(`$eval_iters` batches each) and a sample of `$sample_tokens` characters, and the model at one common size
(block 64, 4 layers, 4 heads, width 128, batch 16) where the program sets it in code. makemore and minGPT
load batches in the training process (their own num-workers option at 0, both sides): PyTorch's four worker
processes would crowd a 2-core machine, and ours load in-process anyway. Each replacement must match
its text exactly once, so a changed upstream file fails loudly instead of running unshortened.

nanoGPT's train.py needs prepared binary data, a config system and DDP; its model.py is what learners port. So
nanoGPT runs here as model.py, unchanged, under NANOGPT_DRIVER below: a train.py-style loop written for this
benchmark (AdamW from model.configure_optimizers, warmup then cosine learning rate, gradient clipping at 1.0,
evaluations of train and val loss, a sample with temperature 0.8 and top-k 200), with shakespeare_char's
dropout (0.2) and bias (False).
"""

from dataclasses import dataclass, field

NANOGPT_DRIVER = '''"""A train.py-style loop around nanoGPT's model.py (benchmarks/program_specs.py)."""
import math

import torch
from model import GPT, GPTConfig

torch.manual_seed(1337)
text = open("input.txt", encoding="utf-8").read()
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
n = int(0.9 * len(data))
splits = {"train": data[:n], "val": data[n:]}
block_size, batch_size = 64, 16
max_iters, eval_interval, eval_iters = $steps, $eval_interval, $eval_iters
learning_rate, min_lr, warmup_iters = 1e-3, 1e-4, max(1, max_iters // 10)


def get_batch(split):
    d = splits[split]
    ix = torch.randint(len(d) - block_size, (batch_size,))
    x = torch.stack([d[i : i + block_size] for i in ix])
    y = torch.stack([d[i + 1 : i + 1 + block_size] for i in ix])
    return x, y


@torch.no_grad()
def estimate_loss():
    model.eval()
    out = {}
    for split in ("train", "val"):
        losses = torch.zeros(eval_iters)
        for k in range(eval_iters):
            X, Y = get_batch(split)
            _, loss = model(X, Y)
            losses[k] = loss.item()
        out[split] = losses.mean().item()
    model.train()
    return out


def get_lr(it):
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    progress = (it - warmup_iters) / max(1, max_iters - warmup_iters)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (learning_rate - min_lr)


config = GPTConfig(block_size=block_size, vocab_size=len(chars), n_layer=4, n_head=4, n_embd=128, dropout=0.2, bias=False)
model = GPT(config)
optimizer = model.configure_optimizers(0.1, learning_rate, (0.9, 0.99), "cpu")
for it in range(max_iters + 1):
    for group in optimizer.param_groups:
        group["lr"] = get_lr(it)
    if it % eval_interval == 0 or it == max_iters:
        losses = estimate_loss()
        print(f"step {it}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
    if it == max_iters:
        break
    X, Y = get_batch("train")
    _, loss = model(X, Y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
model.eval()
context = torch.zeros((1, 1), dtype=torch.long)
print("".join(chars[i] for i in model.generate(context, $sample_tokens, temperature=0.8, top_k=200)[0].tolist()))
'''


@dataclass(frozen=True)
class Program:
    """One program: `files` (path in the checkout -> path in the run folder), the file run as __main__, the
    shortening `patches` ({run-folder path: [(text, replacement), ...]}), command-line `args`, files written
    beside them (`written`), the name the data file gets (None: the program brings its own), and a regular
    expression whose last match in the output is the final loss reported beside the times."""

    name: str
    files: dict
    entry: str
    patches: dict = field(default_factory=dict)
    args: tuple = ()
    written: dict = field(default_factory=dict)
    data_as: str = "input.txt"
    loss_pattern: str = r"loss ([0-9.]+)"


PROGRAMS = {
    "nanogpt": Program(
        name="nanoGPT model.py, train.py-style loop",
        files={"model.py": "model.py"},
        entry="train_char.py",
        written={"train_char.py": NANOGPT_DRIVER},
        loss_pattern=r"val loss ([0-9.]+)",
    ),
    "lecture": Program(
        name="ng-video-lecture gpt.py",
        files={"gpt.py": "gpt.py"},
        entry="gpt.py",
        patches={
            "gpt.py": [
                ("batch_size = 64 ", "batch_size = 16 "),
                ("block_size = 256 ", "block_size = 64 "),
                ("max_iters = 5000", "max_iters = $steps"),
                ("eval_interval = 500", "eval_interval = $eval_interval"),
                ("eval_iters = 200", "eval_iters = $eval_iters"),
                ("n_embd = 384", "n_embd = 128"),
                ("n_head = 6", "n_head = 4"),
                ("n_layer = 6", "n_layer = 4"),
                ("max_new_tokens=500)[0]", "max_new_tokens=$sample_tokens)[0]"),
            ]
        },
        loss_pattern=r"val loss ([0-9.]+)",
    ),
    "makemore": Program(  # its own model size and data (names.txt); evaluation and samples every $eval_interval
        name="makemore.py --type transformer",
        files={"makemore.py": "makemore.py", "names.txt": "names.txt"},
        entry="makemore.py",
        patches={
            "makemore.py": [
                ("if step > 0 and step % 500 == 0:", "if step > 0 and step % $eval_interval == 0:"),
                ("if step > 0 and step % 200 == 0:", "if step > 0 and step % $eval_interval == 0:"),
            ]
        },
        args=("-i", "names.txt", "-o", "out", "--type", "transformer", "--max-steps", "$steps", "--num-workers", "0"),
        data_as=None,
        loss_pattern=r"test loss: ([0-9.]+)",
    ),
    "mingpt": Program(  # sized through its own command-line configuration; no text patch for the size
        name="minGPT projects/chargpt",
        files={
            "projects/chargpt/chargpt.py": "chargpt.py",
            "mingpt/__init__.py": "mingpt/__init__.py",
            "mingpt/model.py": "mingpt/model.py",
            "mingpt/trainer.py": "mingpt/trainer.py",
            "mingpt/utils.py": "mingpt/utils.py",
        },
        entry="chargpt.py",
        patches={
            "chargpt.py": [
                ("if trainer.iter_num % 500 == 0:", "if trainer.iter_num % $eval_interval == 0:"),
                ("model.generate(x, 500,", "model.generate(x, $sample_tokens,"),
            ]
        },
        args=(
            "--trainer.max_iters=$steps",
            "--trainer.batch_size=16",
            "--data.block_size=64",
            "--model.model_type=None",
            "--model.n_layer=4",
            "--model.n_head=4",
            "--model.n_embd=128",
            "--system.work_dir=out",
            "--trainer.num_workers=0",
        ),
        loss_pattern=r"train loss ([0-9.]+)",
    ),
}
