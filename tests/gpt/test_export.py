"""`tinygrad-gpt export`: model.safetensors + config.json from a checkpoint, never over an earlier export."""

import json

import nn
from tinygrad_gpt import GPT, GPTConfig, tokenizer_from_state_dict

from .cli_helpers import TEXT, cli, files, train


def test_export_writes_the_weights_and_a_config_that_rebuilds_model_and_tokenizer(tmp_path):
    assert train(tmp_path, "--tokenizer", "bpe", "--vocab-size", 300).returncode == 0
    result = cli(tmp_path, "export", "--checkpoint", "run/checkpoint.npz", "--out", "exported")
    assert result.returncode == 0, result.stderr
    size = (tmp_path / "exported" / "model.safetensors").stat().st_size
    assert f"exported/model.safetensors ({size:,} bytes), exported/config.json" in result.stdout
    assert sorted(p.name for p in (tmp_path / "exported").iterdir()) == ["config.json", "model.safetensors"]
    checkpoint = nn.load(tmp_path / "run" / "checkpoint.npz")
    config = json.loads((tmp_path / "exported" / "config.json").read_text())
    assert config["model"] == checkpoint["model_config"] and config["step"] == 4
    tokenizer = tokenizer_from_state_dict(config["tokenizer"])
    saved_tokenizer = tokenizer_from_state_dict(checkpoint["tokenizer"])
    assert tokenizer.encode(TEXT) == saved_tokenizer.encode(TEXT) and tokenizer.vocab_size > 256
    weights = nn.load(tmp_path / "exported" / "model.safetensors")
    assert weights.keys() == checkpoint["model"].keys()
    for name, value in weights.items():
        assert (value.numpy() == checkpoint["model"][name].numpy()).all(), name
    GPT(GPTConfig(**config["model"])).load_state_dict(weights, strict=True)


def test_export_never_replaces_an_earlier_export_without_overwrite(tmp_path):
    assert train(tmp_path, out="first").returncode == 0
    assert train(tmp_path, "--seed", 7, out="second").returncode == 0
    export = ["export", "--out", "exported", "--checkpoint"]
    assert cli(tmp_path, *export, "first/checkpoint.npz").returncode == 0
    before = files(tmp_path)
    result = cli(tmp_path, *export, "second/checkpoint.npz")
    assert result.returncode == 1
    assert (
        "error: exported already holds an export (model.safetensors, config.json); "
        "export into a new --out, or replace it with --overwrite"
    ) in result.stderr
    assert files(tmp_path) == before
    assert cli(tmp_path, *export, "second/checkpoint.npz", "--overwrite").returncode == 0
    replaced = nn.load(tmp_path / "exported" / "model.safetensors")
    second = nn.load(tmp_path / "second" / "checkpoint.npz")["model"]
    assert all((replaced[name].numpy() == second[name].numpy()).all() for name in second)


def test_export_names_a_missing_checkpoint_and_a_file_as_out(tmp_path):
    result = cli(tmp_path, "export", "--checkpoint", "nowhere.npz", "--out", "exported")
    assert result.returncode == 1 and "error: no checkpoint at nowhere.npz" in result.stderr
    assert train(tmp_path).returncode == 0
    (tmp_path / "afile").write_text("x")
    result = cli(tmp_path, "export", "--checkpoint", "run/checkpoint.npz", "--out", "afile")
    assert result.returncode == 1 and "error: --out afile is a file, not a folder" in result.stderr
    result = cli(tmp_path, "export", "--checkpoint", "run/checkpoint.npz")
    assert result.returncode == 2 and "the following arguments are required: --out" in result.stderr
