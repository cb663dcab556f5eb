"""An exported run opens in PyTorch with the README's lines: the twin built from config.json gives the same logits."""

import json
import types

import numpy as np
import pytest

import tensor
from tinygrad_gpt import GPTConfig, TrainConfig, tokenizer_from_state_dict, train
from tinygrad_gpt.export import export_checkpoint
from tinygrad_gpt.train import load_checkpoint

from .test_safetensors_gpt import TOLERANCE, TorchGPT

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

TEXT = "the quick brown fox jumps over the lazy dog. " * 60


@pytest.mark.parametrize("tokenizer, tie_weights", [("char", False), ("bpe", True)])
def test_an_exported_run_gives_the_same_logits_in_the_pytorch_twin_built_from_config_json(
    tmp_path, tokenizer, tie_weights
):
    model_config = GPTConfig(block_size=16, n_embd=16, n_head=2, n_layer=2, tie_weights=tie_weights)
    train_config = TrainConfig(
        steps=6, batch_size=4, eval_interval=6, eval_iters=1, out_dir=str(tmp_path / "run"), tokenizer=tokenizer,
        bpe_vocab_size=300, lr_schedule="cosine", warmup_steps=2,
    )  # fmt: skip
    train(model_config, train_config, TEXT, progress=False, log=lambda message: None)
    export_checkpoint(tmp_path / "run" / "checkpoint.npz", tmp_path / "export")

    # The README's lines, as a PyTorch program runs them:
    config = json.load(open(tmp_path / "export" / "config.json"))
    twin = TorchGPT(types.SimpleNamespace(**config["model"]))
    safetensors_torch.load_model(twin, tmp_path / "export" / "model.safetensors")  # strict

    _, model, ours_tokenizer = load_checkpoint(tmp_path / "run" / "checkpoint.npz")
    their_tokenizer = tokenizer_from_state_dict(config["tokenizer"])
    ids = their_tokenizer.encode(TEXT[:200])[: model.block_size]
    assert ids == ours_tokenizer.encode(TEXT[:200])[: model.block_size] and len(ids) == model.block_size
    model.eval(), twin.eval()
    with tensor.no_grad():
        ours = model(tensor.tensor([ids]))[0].numpy()
    with torch.no_grad():
        theirs = twin(torch.tensor([ids]))[0].numpy()
    assert np.abs(ours - theirs).max() < TOLERANCE
    if tie_weights:
        assert twin.lm_head.weight is twin.token_embedding_table.weight
