"""`train --tokenizer char|bpe --vocab-size N`: BPE merges in the checkpoint, fixed on resume, bits per character."""

import math
import re

import nn
from tinygrad_gpt import BPETokenizer

from .cli_helpers import TEXT, cli, files, train

EVAL_LINE = re.compile(r"step (\d+)/\d+: train loss [\d.]+, val loss ([\d.]+) \(([\d.]+) bits/char\)")


def test_a_bpe_run_saves_its_merges_and_generates(tmp_path):
    result = train(tmp_path, "--tokenizer", "bpe", "--vocab-size", 300)
    assert result.returncode == 0, result.stderr
    saved = nn.load(tmp_path / "run" / "checkpoint.npz")
    expected = BPETokenizer.from_text(TEXT, 300)
    assert saved["tokenizer"]["kind"] == "bpe" and saved["tokenizer"]["merges"] == [list(m) for m in expected.merges]
    assert saved["model_config"]["vocab_size"] == expected.vocab_size
    result = cli(tmp_path, "generate", "--checkpoint", "run/checkpoint.npz", "--prompt", "the fox", "--tokens", 5)
    assert result.returncode == 0 and result.stdout.startswith("the fox")


def test_validation_loss_is_also_reported_in_bits_per_character(tmp_path):
    char = train(tmp_path, out="char").stdout
    (step, loss, bpc), *_ = EVAL_LINE.findall(char)
    assert float(bpc) == round(float(loss) / math.log(2), 3)  # one token per character: nats / ln 2
    assert "final validation loss" in char and "bits/char); checkpoint" in char
    bpe = train(tmp_path, "--tokenizer", "bpe", "--vocab-size", 300, out="bpe").stdout
    (step, loss, bpc), *_ = EVAL_LINE.findall(bpe)
    tokenizer = BPETokenizer.from_text(TEXT, 300)
    val_tokens = tokenizer.encode(TEXT)[int(0.9 * len(tokenizer.encode(TEXT))) :]
    characters_per_token = len(tokenizer.decode(val_tokens)) / len(val_tokens)
    assert characters_per_token > 2  # so the two units differ a lot
    assert abs(float(bpc) - float(loss) / math.log(2) / characters_per_token) < 2e-3


def test_resume_refuses_a_tokenizer_change_naming_the_checkpoints_value(tmp_path):
    assert train(tmp_path, "--tokenizer", "bpe", "--vocab-size", 300).returncode == 0
    before, merges = files(tmp_path), nn.load(tmp_path / "run" / "checkpoint.npz")["tokenizer"]
    resume = ["train", "--resume", "--out", "run", "--steps", 8]
    result = cli(tmp_path, *resume, "--tokenizer", "char")
    assert result.returncode == 1
    assert (
        "error: --tokenizer char cannot change on --resume: the checkpoint in run has tokenizer = bpe" in result.stderr
    )
    result = cli(tmp_path, *resume, "--vocab-size", 400)
    assert "error: --vocab-size 400 cannot change on --resume: the checkpoint in run has bpe_vocab_size = 300" in (
        result.stderr
    )
    assert files(tmp_path) == before
    result = cli(tmp_path, *resume, "--tokenizer", "bpe", "--vocab-size", 300)  # the same values are fine
    assert result.returncode == 0, result.stderr
    assert nn.load(tmp_path / "run" / "checkpoint.npz")["tokenizer"] == merges
