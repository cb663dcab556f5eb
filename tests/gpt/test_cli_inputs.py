"""Inputs the command line reads: data files, checkpoints, and the benchmark program's folder."""

import json
import shutil
from pathlib import Path

import nn
import tensor
from tinygrad_gpt import GPTConfig, TrainConfig, train
from tinygrad_gpt.generate import sample

from .cli_helpers import ROOT, TEXT, cli, files
from .cli_helpers import train as train_cli


def test_data_that_is_a_folder_is_a_clear_error(tmp_path):
    (tmp_path / "texts").mkdir()
    result = cli(tmp_path, "train", "--data", "texts", "--out", "run")
    assert result.returncode == 1 and result.stderr.strip() == "error: texts is a folder: give one UTF-8 text file"
    result = cli(tmp_path, "train", "--data", "missing.txt", "--out", "run")
    assert result.returncode == 1 and result.stderr.strip() == "error: missing.txt does not exist"
    assert sorted(files(tmp_path)) == []


def test_a_byte_order_mark_is_not_part_of_the_vocabulary(tmp_path):
    (tmp_path / "corpus.txt").write_bytes("\ufeff".encode() + TEXT.encode())
    assert train_cli(tmp_path, steps=2).returncode == 0
    chars = nn.load(tmp_path / "run" / "checkpoint.npz")["tokenizer"]["chars"]
    assert chars == "".join(sorted(set(TEXT)))


def _edited_checkpoint(tmp_path, edit):
    assert train_cli(tmp_path, steps=2).returncode == 0
    checkpoint = nn.load(tmp_path / "run" / "checkpoint.npz")
    edit(checkpoint)
    nn.save(checkpoint, tmp_path / "bad.npz")
    return cli(tmp_path, "generate", "--checkpoint", "bad.npz", "--tokens", 5)


def test_a_checkpoint_whose_tokenizer_does_not_match_its_model_is_refused_on_load(tmp_path):
    def drop_a_character(checkpoint):
        checkpoint["tokenizer"]["chars"] = checkpoint["tokenizer"]["chars"][1:]

    result = _edited_checkpoint(tmp_path, drop_a_character)
    vocab = len(set(TEXT))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: bad.npz is inconsistent: its tokenizer has {vocab - 1} tokens, "
        f"but its model config has vocab_size = {vocab}"
    )


def test_a_checkpoint_whose_config_disagrees_with_its_weights_is_refused_on_load(tmp_path):
    def widen(checkpoint):
        checkpoint["model_config"]["n_embd"] = 16

    result = _edited_checkpoint(tmp_path, widen)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "error: bad.npz: its weights do not match its model config" in result.stderr
    assert "size mismatch for 'lm_head.weight': (28, 8) in the state dict, (28, 16) in the model" in result.stderr


def test_sample_puts_back_the_models_mode_and_the_random_state(tmp_path):
    config = TrainConfig(steps=2, batch_size=2, eval_interval=2, eval_iters=1, out_dir=str(tmp_path))
    small = GPTConfig(block_size=8, n_embd=8, n_head=2, n_layer=1)
    result = train(small, config, TEXT, progress=False, log=lambda m: None)
    model, tokenizer = result.model, result.tokenizer
    model.train()
    model.blocks[0].eval()  # a mixed state must come back as it was
    state = tensor.get_rng_state()
    first = sample(model, tokenizer, "the ", 20, seed=7)
    assert tensor.get_rng_state() == state
    assert model.training and not model.blocks[0].training and model.lm_head.training
    assert sample(model, tokenizer, "the ", 20, seed=7) == first


def test_bench_quick_never_writes_into_the_tracked_results(tmp_path):
    tracked = ROOT / "benchmarks" / "results" / "results.json"
    before = tracked.read_bytes() if tracked.exists() else None
    quick = ["--quick", "--suite", "memory", "--memory-steps", 1, "--device", "cpu", "--no-reference"]
    result = cli(ROOT, "bench", *quick)
    assert result.returncode == 0, result.stderr
    written = Path(result.stdout.strip().splitlines()[-1].removeprefix("wrote ").split(" and ")[0])
    assert written.parent.name.startswith("tinygrad-gpt-bench-") and json.loads(written.read_text())["rows"]
    shutil.rmtree(written.parent)
    assert (tracked.read_bytes() if tracked.exists() else None) == before


def test_bench_says_where_the_benchmarks_are_when_they_are_not_installed(tmp_path):
    site = tmp_path / "site-packages"  # what `pip install .` holds: the three packages, no benchmarks/
    site.mkdir()
    for package in ("tensor", "nn", "tinygrad_gpt"):
        (site / package).symlink_to(ROOT / package)
    result = cli(tmp_path, "bench", "--quick", pythonpath=(site,))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "`tinygrad-gpt bench` runs the benchmarks of a checkout of the repository" in result.stderr
    assert "python -m benchmarks --quick" in result.stderr


def test_resume_without_data_uses_the_runs_own_text(tmp_path):
    assert train_cli(tmp_path, steps=2).returncode == 0
    result = cli(tmp_path, "train", "--resume", "--out", "run", "--steps", 4)
    assert result.returncode == 0 and f"training on {tmp_path / 'corpus.txt'}: 2,700 characters" in result.stdout
