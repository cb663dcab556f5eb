"""The plots: a loss curve whose evaluations form lines, attention maps with named axes and a colour bar."""

import numpy as np
import pytest

import nn
from tinygrad_gpt.gpt import GPT, GPTConfig
from tinygrad_gpt.models import LanguageModel
from tinygrad_gpt.tokenizer import CharTokenizer

pytest.importorskip("matplotlib")
from tinygrad_gpt import plots  # noqa: E402


def test_loss_curve_draws_the_evaluations_as_lines(tmp_path):
    evals = [{"step": 0, "train": 4.0, "val": 4.1}, {"step": 5, "train": 3.0, "val": 3.2}]
    fig = plots.loss_curve_figure([4.0, 3.8, 3.5, 3.3, 3.1, 3.0], evals)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"train (per step)", "train (evaluated)", "validation"}
    for name in ("train (evaluated)", "validation"):
        assert lines[name].get_linestyle() == "-" and len(lines[name].get_xdata()) == 2
    assert ax.get_xlabel() == "step" and "loss" in ax.get_ylabel()
    fig.savefig(tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_attention_figure_names_its_axes_and_has_a_colour_bar(tmp_path):
    maps = np.random.default_rng(0).random((2, 3, 4, 4))
    fig = plots.attention_figure(maps, list("a b\n"))
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 6 and len(fig.axes) == 7  # one panel per (layer, head), and one colour bar
    for ax in panels:
        assert ax.get_xlabel() == "key (attended to)" and ax.get_ylabel() == "query (attending)"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "␣", "b", "\\n"]
    fig.savefig(tmp_path / "attention.png")
    assert (tmp_path / "attention.png").read_bytes()[:4] == b"\x89PNG"


def test_attention_maps_come_from_the_model_and_leave_its_mode_alone():
    text = "hello world"
    tokenizer = CharTokenizer(text)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=8, n_embd=8, n_head=2, n_layer=2))
    model.train()
    maps = plots.attention_maps(model, tokenizer, text)
    assert model.training
    assert maps.shape == (2, 2, 8, 8)
    np.testing.assert_allclose(maps.sum(-1), 1, rtol=1e-5)
    assert (maps[..., np.triu_indices(8, 1)[0], np.triu_indices(8, 1)[1]] == 0).all()


def test_gpt_reuses_language_model_forward_and_says_what_it_is():
    assert issubclass(GPT, LanguageModel) and GPT.forward is LanguageModel.forward
    assert "block_size" in GPT.__doc__ and "(B, T)" in GPT.__doc__
    assert isinstance(GPT(GPTConfig()), nn.Module)
