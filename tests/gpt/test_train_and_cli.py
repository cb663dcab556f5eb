"""Training, checkpoints, exact resume, generation from a checkpoint, and the CLI."""

import math
import os
import subprocess
import sys

import pytest

import nn
from tinygrad_gpt import GPTConfig, TrainConfig, train
from tinygrad_gpt.cli import main
from tinygrad_gpt.generate import generate_text

TEXT = "the quick brown fox jumps over the lazy dog. " * 60
SMALL = GPTConfig(block_size=16, n_embd=16, n_head=2, n_layer=2, dropout=0.1)


def config(tmp_path, steps, **overrides):
    return TrainConfig(steps=steps, batch_size=4, eval_interval=5, eval_iters=2, out_dir=str(tmp_path), **overrides)


def test_training_lowers_the_loss_and_writes_a_checkpoint(tmp_path):
    result = train(SMALL, config(tmp_path, 60, learning_rate=3e-3), TEXT, progress=False, log=lambda m: None)
    assert len(result.train_losses) == 60 and len(result.evals) == 12
    assert result.evals[-1]["train"] < result.evals[0]["train"] - 0.3
    assert result.evals[0]["train"] < math.log(result.tokenizer.vocab_size) + 0.5
    checkpoint = nn.load(tmp_path / "checkpoint.npz")
    assert checkpoint["step"] == 60 and checkpoint["tokenizer"]["chars"] == "".join(sorted(set(TEXT)))


def test_a_resumed_run_produces_the_same_losses_as_one_that_never_stopped(tmp_path):
    straight = train(SMALL, config(tmp_path / "a", 20), TEXT, progress=False, log=lambda m: None)
    train(SMALL, config(tmp_path / "b", 10), TEXT, progress=False, log=lambda m: None)  # stops at step 10
    resumed = train(SMALL, config(tmp_path / "b", 20), TEXT, resume=True, progress=False, log=lambda m: None)
    assert resumed.train_losses == straight.train_losses  # bit-for-bit, dropout included
    assert resumed.evals == straight.evals


def test_generation_from_a_checkpoint_is_reproducible_under_a_seed(tmp_path):
    train(SMALL, config(tmp_path, 10), TEXT, progress=False, log=lambda m: None)
    path = tmp_path / "checkpoint.npz"
    first = generate_text(path, prompt="the ", max_new_tokens=40, seed=3)
    assert first == generate_text(path, prompt="the ", max_new_tokens=40, seed=3)
    assert first.startswith("the ") and len(first) == 44 and set(first) <= set(TEXT)
    with pytest.raises(ValueError, match="'Z'"):
        generate_text(path, prompt="Zebra")


def test_cli_train_then_generate(tmp_path, capsys):
    data = tmp_path / "corpus.txt"
    data.write_text(TEXT)
    out = tmp_path / "run"
    common = ["--block-size", "16", "--n-embd", "16", "--n-head", "2", "--n-layer", "1", "--batch-size", "4"]
    main(
        [
            "train",
            "--data",
            str(data),
            "--steps",
            "6",
            "--eval-interval",
            "3",
            "--eval-iters",
            "1",
            "--out",
            str(out),
            "--sample-tokens",
            "20",
            "--no-progress",
            *common,
        ]
    )
    printed = capsys.readouterr().out
    assert "final validation loss" in printed and "--- sample ---" in printed
    main(["generate", "--checkpoint", str(out / "checkpoint.npz"), "--prompt", "the", "--tokens", "10", "--seed", "1"])
    assert capsys.readouterr().out.startswith("the")


def test_cli_errors_are_one_clear_line(tmp_path):
    with pytest.raises(SystemExit, match="no checkpoint at"):
        main(["generate", "--checkpoint", str(tmp_path / "missing.npz")])
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(SystemExit, match="is empty"):
        main(["train", "--data", str(tmp_path / "empty.txt")])


def test_python_dash_m_help_explains_the_commands():
    result = subprocess.run(
        [sys.executable, "-m", "tinygrad_gpt", "train", "--help"],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    assert result.returncode == 0 and "--block-size" in result.stdout and "built-in" in result.stdout


def test_plots_are_written(tmp_path):
    pytest.importorskip("matplotlib")
    from tinygrad_gpt.plots import plot_attention_maps, plot_loss_curve

    result = train(SMALL, config(tmp_path, 5), TEXT, progress=False, log=lambda m: None)
    plot_loss_curve(result.train_losses, result.evals, tmp_path / "loss.png")
    plot_attention_maps(result.model, result.tokenizer, TEXT[:16], tmp_path / "attention.png")
    for name in ("loss.png", "attention.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bench_forwards_to_the_benchmark_program(tmp_path, capfd):
    """`tinygrad-gpt bench` runs `python -m benchmarks` in a process of its own and exits with its status."""
    with pytest.raises(SystemExit) as finished:
        main(["bench", "--quick", "--suite", "memory", "--memory-steps", "1", "--no-reference", "--out", str(tmp_path)])
    assert finished.value.code == 0
    assert "## memory" in capfd.readouterr().out and (tmp_path / "results.json").exists()
