"""Gradient clipping and the learning-rate schedule in training: nanoGPT's formula, exact resume, the plot's lr axis."""

import math
import signal

import pytest

import nn
from tinygrad_gpt import GPTConfig, TrainConfig, train
from tinygrad_gpt.train import learning_rate_factor

TEXT = "the quick brown fox jumps over the lazy dog. " * 60
SMALL = GPTConfig(block_size=16, n_embd=16, n_head=2, n_layer=2, dropout=0.1)
SCHEDULED = dict(lr_schedule="cosine", warmup_steps=3, min_lr=2e-4, learning_rate=3e-3, grad_clip=0.05)


def config(folder, steps, **overrides):
    return TrainConfig(steps=steps, batch_size=4, eval_interval=4, eval_iters=2, out_dir=str(folder), **overrides)


def quiet_train(*args, **kwargs):
    return train(*args, progress=False, log=lambda message: None, **kwargs)


def test_the_schedule_is_nanogpts_warmup_then_cosine_to_min_lr():
    factor = learning_rate_factor(config("x", 6, lr_schedule="cosine", warmup_steps=2, min_lr=1e-4))
    lr = [1e-3 * factor(t) for t in range(7)]
    # by hand: warm-up lr * (t + 1) / 3; then 1e-4 + 9e-4 * (1 + cos(pi * (t - 2) / 4)) / 2
    expected = [1e-3 / 3, 2e-3 / 3, 1e-3, 1e-4 + 9e-4 * (1 + math.sqrt(0.5)) / 2, 5.5e-4, None, 1e-4]
    expected[5] = 1e-4 + 9e-4 * (1 - math.sqrt(0.5)) / 2
    assert lr == pytest.approx(expected, rel=1e-12)
    constant = learning_rate_factor(config("x", 6, warmup_steps=2))
    assert [constant(t) for t in range(5)] == pytest.approx([1 / 3, 2 / 3, 1, 1, 1])


def test_training_uses_the_schedule_step_by_step(tmp_path):
    train_config = config(tmp_path, 8, **SCHEDULED)
    result = quiet_train(SMALL, train_config, TEXT)
    factor = learning_rate_factor(train_config)
    assert result.learning_rates == [3e-3 * factor(t) for t in range(8)]
    assert result.learning_rates[0] == 3e-3 / 4 and max(result.learning_rates) == 3e-3


def test_n_steps_equal_half_then_resume_bit_for_bit_with_cosine_warmup_and_clipping(tmp_path):
    straight = quiet_train(SMALL, config(tmp_path / "a", 12, **SCHEDULED), TEXT)

    def ctrl_c_at_step_8(message):  # a real SIGINT: train() stops after the step and saves it
        if message.startswith("step 8/12"):
            signal.raise_signal(signal.SIGINT)

    stopped = train(SMALL, config(tmp_path / "b", 12, **SCHEDULED), TEXT, progress=False, log=ctrl_c_at_step_8)
    assert stopped.interrupted and stopped.saved_step == 8
    assert nn.load(tmp_path / "b" / "checkpoint.npz")["scheduler"]["last_epoch"] == 8
    resumed = quiet_train(SMALL, config(tmp_path / "b", 12, **SCHEDULED), TEXT, resume=True)
    assert resumed.train_losses == straight.train_losses  # bit for bit
    assert resumed.learning_rates == straight.learning_rates and resumed.evals == straight.evals
    for (name, ours), (_, theirs) in zip(resumed.model.state_dict().items(), straight.model.state_dict().items()):
        assert (ours.numpy() == theirs.numpy()).all(), name


def test_a_resumed_run_applies_a_new_lr_to_the_rest_of_the_schedule(tmp_path):
    quiet_train(SMALL, config(tmp_path, 4, **SCHEDULED), TEXT)
    resumed = quiet_train(SMALL, config(tmp_path, 8, **{**SCHEDULED, "learning_rate": 1e-3}), TEXT, resume=True)
    factor = learning_rate_factor(config(tmp_path, 8, **{**SCHEDULED, "learning_rate": 1e-3}))
    assert resumed.learning_rates[4:] == [1e-3 * factor(t) for t in range(4, 8)]


def test_clipping_changes_training_and_zero_disables_it(tmp_path):
    clipped = quiet_train(SMALL, config(tmp_path / "a", 6, grad_clip=0.01), TEXT)
    free = quiet_train(SMALL, config(tmp_path / "b", 6, grad_clip=0.0), TEXT)
    huge = quiet_train(SMALL, config(tmp_path / "c", 6, grad_clip=1e9), TEXT)
    assert clipped.train_losses[0] == free.train_losses[0]  # the first loss comes before any update
    assert clipped.train_losses[1:] != free.train_losses[1:]
    assert huge.train_losses == pytest.approx(free.train_losses, rel=1e-6)  # a bound never reached: no effect


def test_min_lr_above_lr_is_refused_for_a_cosine_schedule():
    with pytest.raises(ValueError, match="min_lr must be at most learning_rate"):
        TrainConfig(lr_schedule="cosine", learning_rate=1e-4, min_lr=1e-3)
    with pytest.raises(ValueError, match="lr_schedule must be one of constant, cosine, got 'linear'"):
        TrainConfig(lr_schedule="linear")


def test_the_loss_plot_shows_the_learning_rate_on_a_second_axis():
    pytest.importorskip("matplotlib")
    from tinygrad_gpt import plots

    rates = [1e-4, 2e-4, 3e-4, 2e-4]
    fig = plots.loss_curve_figure([4.0, 3.8, 3.5, 3.3], [{"step": 4, "train": 3.3, "val": 3.4}], rates)
    loss_axis, lr_axis = fig.axes
    assert lr_axis.get_ylabel() == "learning rate" and "loss" in loss_axis.get_ylabel()
    (line,) = lr_axis.get_lines()
    assert list(line.get_xdata()) == [1, 2, 3, 4] and list(line.get_ydata()) == rates
    assert lr_axis.bbox.bounds == loss_axis.bbox.bounds  # twinx: the same box, the lr scale on the right
    legend = [text.get_text() for text in loss_axis.get_legend().get_texts()]
    assert "learning rate" in legend and "validation" in legend
    assert len(plots.loss_curve_figure([4.0, 3.8], []).axes) == 1  # no rates, no second axis
