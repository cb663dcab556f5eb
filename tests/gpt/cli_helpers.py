"""Running the real `python -m tinygrad_gpt` in a temporary folder, for the command-line tests."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout, so its code is what runs
TEXT = "the quick brown fox jumps over the lazy dog. " * 60
TINY = ["--block-size", "8", "--n-embd", "8", "--n-head", "2", "--n-layer", "1", "--batch-size", "2"]
QUICK = ["--eval-iters", "1", "--sample-tokens", "5", "--data", "corpus.txt"]


def environment(pythonpath=(ROOT,)):
    return {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, pythonpath)), "PYTHONUNBUFFERED": "1"}


def command(*args, python=("-m", "tinygrad_gpt")):
    return [sys.executable, *python, *map(str, args)]


def cli(folder, *args, pythonpath=(ROOT,), python=("-m", "tinygrad_gpt")):
    """Run the command line in `folder`; the completed process (text stdout and stderr)."""
    return subprocess.run(
        command(*args, python=python), cwd=folder, env=environment(pythonpath), capture_output=True, text=True
    )


def train(folder, *args, steps=4, out="run"):
    """A tiny training run on corpus.txt (written if missing) into `out`."""
    if not (Path(folder) / "corpus.txt").exists():
        (Path(folder) / "corpus.txt").write_text(TEXT)
    return cli(folder, "train", *TINY, *QUICK, "--steps", steps, "--eval-interval", 2, "--out", out, *args)


def files(folder):
    """{relative path: bytes} of every file under `folder`: what a refused command must leave unchanged."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
