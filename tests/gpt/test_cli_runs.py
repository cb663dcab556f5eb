"""`tinygrad-gpt train` never loses a run: each case runs the real command in a temporary folder."""

import errno
import signal
import subprocess

import nn

from .cli_helpers import ROOT, cli, command, environment, files, train


def test_an_out_that_holds_a_checkpoint_is_never_replaced_without_overwrite(tmp_path):
    assert train(tmp_path, steps=4).returncode == 0
    before = files(tmp_path)
    again = train(tmp_path, steps=2)
    assert again.returncode == 1
    assert "run already holds a checkpoint (step 4)" in again.stderr
    assert all(way in again.stderr for way in ("--resume", "new --out", "--overwrite"))
    assert files(tmp_path) == before
    replaced = train(tmp_path, "--overwrite", steps=2)
    assert replaced.returncode == 0 and nn.load(tmp_path / "run" / "checkpoint.npz")["step"] == 2


def test_plot_without_matplotlib_stops_before_training_with_the_install_line(tmp_path):
    assert train(tmp_path, steps=2).returncode == 0
    blocker = tmp_path / "no_matplotlib"
    (blocker / "matplotlib").mkdir(parents=True)
    (blocker / "matplotlib" / "__init__.py").write_text("raise ImportError('matplotlib is not installed')\n")
    before = files(tmp_path)
    result = cli(tmp_path, "train", "--resume", "--steps", 4, "--out", "run", "--plot", pythonpath=(blocker, ROOT))
    assert result.returncode == 1
    assert 'error: --plot needs matplotlib, which is not installed: pip install -e ".[plot]"' in result.stderr
    assert "training on" not in result.stdout
    assert files(tmp_path) == before


def test_an_out_that_is_a_file_or_not_writable_is_refused_before_training(tmp_path):
    (tmp_path / "taken").write_text("not a folder")
    result = train(tmp_path, out="taken")
    assert result.returncode == 1 and "error: --out taken is a file, not a folder" in result.stderr
    result = train(tmp_path, out="taken/run")
    assert result.returncode == 1 and "error: --out taken/run is not a writable folder" in result.stderr
    assert "training on" not in result.stdout and (tmp_path / "taken").read_text() == "not a folder"


SAVE_FAILS = """
import errno, sys
import numpy as np

def savez_on_a_full_disk(file, **arrays):
    file.write(b"PK partial")
    raise OSError(errno.ENOSPC, "No space left on device")

np.savez = savez_on_a_full_disk
from tinygrad_gpt.cli import main
sys.argv[0] = "tinygrad-gpt"
main()
"""


def test_a_failed_save_is_one_line_that_says_the_previous_checkpoint_is_intact(tmp_path):
    assert train(tmp_path, steps=4).returncode == 0
    before = files(tmp_path)
    result = cli(tmp_path, "train", "--resume", "--steps", 8, "--out", "run", python=("-c", SAVE_FAILS))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: could not write the step-6 checkpoint to run/checkpoint.npz ([Errno {errno.ENOSPC}] No space left "
        "on device); the previous checkpoint (step 4) is intact at run/checkpoint.npz"
    )
    assert files(tmp_path) == before  # and the partial temporary file is gone


def test_ctrl_c_saves_the_last_step_and_prints_the_resume_command(tmp_path):
    (tmp_path / "corpus.txt").write_text("the quick brown fox jumps over the lazy dog. " * 60)
    args = ["train", "--block-size", 8, "--n-embd", 8, "--n-head", 2, "--n-layer", 1, "--batch-size", 2]
    args += ["--eval-iters", 1, "--eval-interval", 2, "--steps", 100000, "--data", "corpus.txt", "--out", "run"]
    process = subprocess.Popen(
        command(*args), cwd=tmp_path, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    for line in process.stdout:
        if line.startswith("step 2/100000"):
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    saved = nn.load(tmp_path / "run" / "checkpoint.npz")
    assert f"interrupted: step {saved['step']} is saved in run/checkpoint.npz; continue with:" in err
    assert "tinygrad-gpt train --resume --out run --steps 100000\n" in err
    assert saved["step"] >= 2 and len(saved["train_losses"]) == saved["step"]
    assert not list((tmp_path / "run").glob(".tmp-*"))
    steps = saved["step"] + 2
    resumed = cli(tmp_path, "train", "--resume", "--out", "run", "--steps", steps)  # finds corpus.txt itself
    assert resumed.returncode == 0 and nn.load(tmp_path / "run" / "checkpoint.npz")["step"] == steps


def test_leftovers_of_killed_saves_are_removed_and_nothing_else(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in (".tmp-k1ll3d.npz", ".tmp-notes.txt", "tmp-k1ll3d.npz", "mine.npz"):
        (run / name).write_bytes(b"x")
    result = train(tmp_path, steps=2)
    assert result.returncode == 0
    assert "removed 1 temporary file(s) that interrupted saves left in run: .tmp-k1ll3d.npz" in result.stdout
    assert sorted(p.name for p in run.iterdir()) == [".tmp-notes.txt", "checkpoint.npz", "mine.npz", "tmp-k1ll3d.npz"]


def test_resume_applies_lr_steps_and_evaluation_settings_and_says_so(tmp_path):
    assert train(tmp_path, steps=4).returncode == 0
    result = cli(tmp_path, "train", "--resume", "--out", "run", "--steps", 6, "--lr", "5e-4", "--eval-iters", 2)
    assert result.returncode == 0, result.stderr
    assert (
        "resuming run/checkpoint.npz at step 4 of 6; changed: steps 4 -> 6, learning_rate 0.001 -> 0.0005, "
        "eval_iters 1 -> 2"
    ) in result.stdout
    checkpoint = nn.load(tmp_path / "run" / "checkpoint.npz")
    assert checkpoint["step"] == 6 and checkpoint["train_config"]["learning_rate"] == 5e-4
    assert checkpoint["train_config"]["eval_interval"] == 2  # not given: the checkpoint's own, not the default
    assert checkpoint["optimizer"]["param_groups"][0]["lr"] == 5e-4


def test_resume_refuses_what_cannot_change_naming_the_option_and_the_checkpoint_value(tmp_path):
    assert train(tmp_path, steps=4).returncode == 0
    (tmp_path / "other.txt").write_text("THE QUICK BROWN FOX " * 100)
    before = files(tmp_path)
    resume = ["train", "--resume", "--out", "run", "--steps", 8]
    for option, value, saved in (("--n-embd", 16, "n_embd = 8"), ("--block-size", 4, "block_size = 8")):
        result = cli(tmp_path, *resume, option, value)
        assert result.returncode == 1
        assert f"error: {option} {value} cannot change on --resume: the checkpoint in run has {saved}" in result.stderr
    result = cli(tmp_path, *resume, "--data", "other.txt")
    assert result.returncode == 1 and "the checkpoint's tokenizer does not know" in result.stderr
    result = cli(tmp_path, "train", "--resume", "--out", "run", "--steps", 4)
    assert result.returncode == 1 and "already at step 4: ask for --steps > 4" in result.stderr
    result = cli(tmp_path, "train", "--resume", "--out", "elsewhere")
    assert (
        result.returncode == 1 and "error: --resume: there is no checkpoint in elsewhere to continue" in result.stderr
    )
    assert files(tmp_path) == before


def test_progress_goes_to_plain_lines_when_stderr_is_not_a_terminal(tmp_path):
    (tmp_path / "corpus.txt").write_text("the quick brown fox jumps over the lazy dog. " * 60)
    args = ["train", "--block-size", 8, "--n-embd", 8, "--n-head", 2, "--n-layer", 1, "--batch-size", 2]
    args += ["--eval-iters", 1, "--eval-interval", 2, "--steps", 4, "--data", "corpus.txt", "--sample-tokens", 5]
    # bytes, not text: text mode would turn a progress bar's carriage returns into newlines
    result = subprocess.run(command(*args), cwd=tmp_path, env=environment(), capture_output=True)
    assert result.returncode == 0
    assert b"\r" not in result.stderr + result.stdout and b"%|" not in result.stderr
    evaluations = [line for line in result.stdout.decode().splitlines() if line.startswith("step ")]
    assert [line.split(":")[0] for line in evaluations] == ["step 2/4", "step 4/4"]
    assert "--no-progress" in cli(tmp_path, "train", "--help").stdout


LOSS_DIVERGES = """
import math, sys, types
import tinygrad_gpt
sys.modules["tinygrad_gpt.train"].math = types.SimpleNamespace(isfinite=lambda value: False, nan=math.nan)  # every loss is "nan"
from tinygrad_gpt.cli import main
main()
"""


def test_a_diverging_loss_is_one_line_that_says_which_step_is_saved(tmp_path):
    assert train(tmp_path, steps=4).returncode == 0
    before = files(tmp_path)
    result = cli(tmp_path, "train", "--resume", "--steps", 8, "--out", "run", python=("-c", LOSS_DIVERGES))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: the loss became ")
    assert result.stderr.strip().endswith("at step 5: lower the learning rate (step 4 is saved in run/checkpoint.npz)")
    assert files(tmp_path) == before
