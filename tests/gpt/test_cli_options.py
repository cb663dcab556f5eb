"""Every numeric option is checked at parse time: out of range is exit status 2, naming the option and its range."""

import contextlib
import io
import math
import os
import tempfile
from dataclasses import fields

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_gpt import TrainConfig
from tinygrad_gpt.cli import build_parser, main
from tinygrad_gpt.train import available_memory, estimate_step_memory

from .cli_helpers import cli, files

not_finite = st.sampled_from(["nan", "inf", "-inf"])
not_a_number = st.sampled_from(["abc", "", "1e", "--"])
below = lambda bound: st.integers(max_value=bound - 1).map(str)  # noqa: E731
# (command, option, strategy of values outside its range): written out here, independently of the code's ranges.
OUT_OF_RANGE = [
    ("train", "--steps", below(1)),
    ("train", "--batch-size", below(1)),
    ("train", "--block-size", below(1)),
    ("train", "--n-embd", below(1)),
    ("train", "--n-head", below(1)),
    ("train", "--n-layer", below(1)),
    ("train", "--eval-interval", below(1)),
    ("train", "--eval-iters", below(1)),
    ("train", "--checkpoint-interval", below(0)),
    ("train", "--sample-tokens", below(0)),
    ("train", "--seed", below(0) | st.integers(min_value=2**32).map(str)),
    ("train", "--steps", st.floats(allow_nan=False).filter(lambda x: x != int(x) if math.isfinite(x) else True).map(str)),
    ("train", "--dropout", st.floats(max_value=0, exclude_max=True).map(repr) | st.floats(min_value=1).map(repr) | not_finite),
    ("train", "--lr", st.floats(max_value=0).map(repr) | st.floats(min_value=1, exclude_min=True).map(repr) | not_finite),
    ("train", "--weight-decay", st.floats(max_value=0, exclude_max=True).map(repr) | not_finite),
    ("train", "--grad-clip", st.floats(max_value=0, exclude_max=True).map(repr) | not_finite),
    ("train", "--warmup-steps", below(0)),
    ("train", "--min-lr", st.floats(max_value=0, exclude_max=True).map(repr) | st.floats(min_value=1, exclude_min=True).map(repr) | not_finite),
    ("train", "--vocab-size", below(257) | st.integers(min_value=65537).map(str)),
    ("generate", "--tokens", below(0)),
    ("generate", "--temperature", st.floats(max_value=0).map(repr) | not_finite),
    ("generate", "--top-k", below(1)),
    ("generate", "--seed", below(0)),
]  # fmt: skip
OPTIONS = [(command, option) for command, option, _ in OUT_OF_RANGE]


@st.composite
def an_out_of_range_option(draw):
    command, option, values = draw(st.sampled_from(OUT_OF_RANGE))
    return command, option, draw(values | not_a_number)


@given(an_out_of_range_option())
def test_any_out_of_range_value_exits_2_naming_the_option_before_any_file_is_written(case):
    command, option, value = case
    stderr, here = io.StringIO(), os.getcwd()
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stderr(stderr):
        os.chdir(folder)  # contextlib.chdir needs Python 3.11
        try:
            with pytest.raises(SystemExit) as exit:
                main([command, f"{option}={value}", "--out" if command == "train" else "--prompt", "x"])
        finally:
            os.chdir(here)
        assert os.listdir(folder) == []
    assert exit.value.code == 2
    if value == "--":  # up to Python 3.11 argparse reads "--option=--" as an empty list; 3.12 passes "--" on
        assert f"argument {option}: expected one value" in stderr.getvalue() or (
            f"argument {option}: must be " in stderr.getvalue() and "'--'" in stderr.getvalue()
        )
    else:
        assert f"argument {option}: must be " in stderr.getvalue() and repr(value) in stderr.getvalue()


@given(st.sampled_from(OPTIONS), st.integers(min_value=1, max_value=10))
def test_values_inside_the_range_are_accepted(case, value):
    command, option = case
    fractions = ("--dropout", "--lr", "--temperature", "--weight-decay", "--grad-clip", "--min-lr")
    number = value / 20 if option in fractions else 256 + value if option == "--vocab-size" else value
    args = build_parser().parse_args([command, option, str(number)])
    dest = {"--lr": "learning_rate", "--vocab-size": "bpe_vocab_size"}.get(option, option.lstrip("-").replace("-", "_"))
    assert getattr(args, dest) == number


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--eval-iters", "0"], "argument --eval-iters: must be an integer >= 1, got '0'"),
        (["train", "--lr", "nan"], "argument --lr: must be a finite number in (0, 1], got 'nan'"),
        (["train", "--lr", "1e6"], "argument --lr: must be a finite number in (0, 1], got '1e6'"),
        (["train", "--batch-size", "-3"], "argument --batch-size: must be an integer >= 1, got '-3'"),
        (["train", "--n-embd", "64", "--n-head", "5"], "argument --n-head: must divide --n-embd 64, got 5"),
        (["generate", "--temperature", "inf"], "argument --temperature: must be a finite number > 0, got 'inf'"),
        (["generate", "--top-k", "0"], "argument --top-k: must be an integer >= 1, got '0'"),
        (["train", "--lr-schedule", "linear"], "argument --lr-schedule: invalid choice: 'linear'"),
        (["train", "--tokenizer", "word"], "argument --tokenizer: invalid choice: 'word'"),
        (
            ["train", "--lr-schedule", "cosine", "--lr", "5e-5"],
            "argument --min-lr: must be at most --lr 5e-05, got 0.0001",
        ),
        (
            ["train", "--lr-schedule", "cosine", "--min-lr", "0.01"],
            "argument --min-lr: must be at most --lr 0.001, got 0.01",
        ),
        (["train", "--vocab-size", "300"], "argument --vocab-size: applies to --tokenizer bpe only"),
    ],
)
def test_the_real_command_refuses_bad_values_with_status_2(tmp_path, args, message):
    result = cli(tmp_path, *args)
    assert result.returncode == 2 and message in result.stderr
    assert files(tmp_path) == {}


def test_help_shows_each_range_and_the_defaults_are_train_configs():
    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    assert "--lr FLOAT AdamW learning rate (default: 0.001; a finite number in (0, 1])" in help_text
    assert "--eval-iters INT batches averaged per evaluation (default: 20; an integer >= 1)" in help_text
    args = build_parser().parse_args(["train"])
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        if f.metadata.get("help"):
            assert f"(default: {getattr(defaults, f.name)}" in help_text
            assert getattr(args, f.name) is None  # filled from TrainConfig itself, see options.fill_defaults


def test_a_step_that_cannot_fit_is_refused_with_the_estimate_before_allocating(tmp_path):
    result = cli(tmp_path, "train", "--batch-size", "10000000", "--out", "big")
    assert result.returncode == 1
    assert "error: a training step with --batch-size 10000000, --block-size 32" in result.stderr
    assert "GiB, more than the" in result.stderr and "available: lower --batch-size or --block-size" in result.stderr
    assert files(tmp_path) == {} and not (tmp_path / "big").exists()
    result = cli(tmp_path, "train", "--block-size", "40000", "--out", "big")
    assert result.returncode == 1 and "--block-size 40000" in result.stderr


def test_the_memory_estimate_grows_with_the_step_and_reads_memavailable():
    from tinygrad_gpt import GPTConfig

    small = estimate_step_memory(GPTConfig(vocab_size=100), 16)
    assert 1e6 < small < 1e9  # the default model: some MB, never refused on a laptop
    assert estimate_step_memory(GPTConfig(vocab_size=100), 32) > small
    assert estimate_step_memory(GPTConfig(vocab_size=100, block_size=64), 16) > 2 * small - 4e6
    if os.path.exists("/proc/meminfo"):
        with open("/proc/meminfo") as file:
            line = next(line for line in file if line.startswith("MemAvailable:"))
        assert abs(available_memory() - int(line.split()[1]) * 1024) < 2**30
