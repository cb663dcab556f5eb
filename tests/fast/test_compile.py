"""tensor.compile (tensor/fast/compile.py) on functions: a call recorded on its first calls and replayed after.

Each test compares a compiled run with the same run eager, from the same seed (tests/fast/compile_runs.py).
The compiled module: tests/fast/test_compile_module.py; CUDA graphs: tests/cuda/test_compile_graphs.py.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nn
import nn.functional as F
import tensor
from tensor import kernels, optim
from tinygrad_gpt import GPTConfig

from .compile_runs import gpt_model, lecture_model, training_run


@pytest.mark.parametrize("make_model", [lecture_model, gpt_model], ids=["lecture", "gpt"])
def test_twenty_replayed_steps_equal_the_eager_steps_bit_for_bit(make_model):
    eager_losses, eager_parameters, _ = training_run(make_model, compiled=False)
    losses, parameters, step = training_run(make_model, compiled=True)
    assert step.counts == {"recorded": 2, "replayed": 18, "eager": 0}
    assert losses == eager_losses
    assert len(set(losses)) == len(losses)  # each step's own loss, not a stale one
    for p, q in zip(parameters, eager_parameters):
        np.testing.assert_array_equal(p, q)


def eager_and_replayed_draws(fn, x, seed, calls):
    """fn(x) `calls` times eagerly and `calls` times compiled (two recordings, then replays), both from
    `seed`: the draws must agree call by call. Returns the compiled calls' results."""
    tensor.manual_seed(seed)
    eager = [fn(x).numpy().copy() for _ in range(calls)]
    tensor.manual_seed(seed)
    compiled = tensor.compile(fn)
    replayed = [compiled(x).numpy().copy() for _ in range(calls)]
    assert compiled.counts["replayed"] == calls - 2
    for a, b in zip(eager, replayed):
        np.testing.assert_array_equal(a, b)
    return replayed


def test_dropout_draws_a_fresh_mask_at_every_replay_from_the_same_stream():
    x = tensor.ones(64)

    def drop(x):
        return F.dropout(x * 2, p=0.5)

    replayed = eager_and_replayed_draws(drop, x, seed=3, calls=5)
    assert not np.array_equal(replayed[3], replayed[4])


def test_sampling_draws_fresh_numbers_at_every_replay():
    probabilities = tensor.tensor([[0.1, 0.2, 0.3, 0.4]] * 8)

    def sample(p):
        return tensor.multinomial(p * 1.0, num_samples=1)

    replayed = eager_and_replayed_draws(sample, probabilities, seed=5, calls=6)
    assert len({r.tobytes() for r in replayed}) > 1


def small_step(lr=0.1):
    tensor.manual_seed(0)
    model = nn.Linear(4, 1)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    x = tensor.randn(5, 4)

    def step(x):
        loss = (model(x) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), 0.01)
        optimizer.step()
        return loss, norm

    return model, optimizer, x, step


def test_a_learning_rate_set_by_hand_is_read_at_the_replay_and_adam_counts_its_steps():
    model, optimizer, x, step = small_step()
    step = tensor.compile(step)
    for _ in range(3):
        step(x)
    assert step.counts["replayed"] == 1
    optimizer.param_groups[0]["lr"] = 0.0
    before = model.weight.detach().numpy().copy()
    step(x)
    np.testing.assert_array_equal(
        model.weight.numpy() if not model.weight.requires_grad else model.weight.detach().numpy(), before
    )
    assert all(state["step"] == 4 for state in optimizer.state.values())


def test_adam_bias_corrections_clipping_norm_and_loss_follow_every_replay():
    _, _, x, eager_step = small_step()
    eager = [tuple(v.item() for v in eager_step(x)) for _ in range(6)]
    _, _, x, step = small_step()
    step = tensor.compile(step)
    replayed = [tuple(v.item() for v in step(x)) for _ in range(6)]
    assert step.counts["replayed"] == 4
    assert replayed == eager
    assert len({norm for _, norm in replayed}) == 6  # the norm of each step's gradients, recomputed


def test_a_host_read_inside_runs_eagerly_with_a_warning_naming_it():
    model, _, x, _ = small_step()

    def step(x):
        loss = model(x).sum()
        if loss.item() > 0:  # data-dependent Python control flow
            return loss * 2
        return loss * 3

    compiled = tensor.compile(step)
    with pytest.warns(RuntimeWarning, match=r"host read \(tensor.item\).*test_compile.py"):
        compiled(x)
    for sign in (1, -1, 1):
        assert compiled(x * sign).item() == step(x * sign).item()
    assert compiled.counts == {"recorded": 1, "replayed": 0, "eager": 3}
    with pytest.raises(RuntimeError, match="fullgraph=True.*host read"):
        tensor.compile(step, fullgraph=True)(x)


def test_a_tensor_captured_from_outside_and_replaced_is_refused_not_replayed_stale():
    model, _, x, _ = small_step()
    state = {"x": x}

    def step():
        return model(state["x"]).sum()

    compiled = tensor.compile(step)
    with pytest.warns(RuntimeWarning, match="from outside the call"):
        for scale in (1.0, 2.0, 3.0):
            state["x"] = x * scale
            assert compiled().item() == step().item()
    assert compiled.counts["replayed"] == 0


def test_an_in_place_write_or_a_stray_random_draw_runs_eagerly():
    def writes(x):
        y = x * 1
        y.add_(1)
        return y

    def draws(x):
        return x + tensor.generator("cpu").random((3,), dtype=np.float32)[0]

    for fn, cause in ((writes, "in-place write"), (draws, "random draw")):
        compiled = tensor.compile(fn)
        with pytest.warns(RuntimeWarning, match=cause):
            compiled(tensor.ones(3))
        assert compiled.counts["eager"] + compiled.counts["recorded"] == 1


def test_a_new_signature_records_again_and_the_cache_is_bounded():
    compiled = tensor.compile(lambda x: (x * 2).sum())
    for n in range(1, 4):
        for _ in range(3):
            assert compiled(tensor.ones(n)).item() == 2 * n
    assert compiled.counts == {"recorded": 6, "replayed": 3, "eager": 0}
    with pytest.warns(RuntimeWarning, match="more than 8 signatures"):
        for n in range(4, 12):
            assert compiled(tensor.ones(n)).item() == 2 * n
    with tensor.no_grad():  # grad mode is part of the signature: recorded anew (then eager: cache full)
        assert compiled(tensor.ones(1)).item() == 2


def test_reference_mode_returns_the_function_unchanged():
    def step(x):
        return x * 2

    kernels.set_kernels("reference")
    assert tensor.compile(step) is step
    model = nn.Linear(2, 2)
    assert tensor.compile(model) is model
    kernels.set_kernels("fast")
    assert tensor.compile(step, disable=True) is step
    assert (
        tensor.compile(step, backend="inductor", mode="max-autotune", dynamic=False)(tensor.ones(2)).sum().item() == 4
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decorated = tensor.compile()(step)  # as a decorator: @tensor.compile()
        assert decorated(tensor.ones(1)).item() == 2


def test_train_with_compile_gives_the_eager_run_bit_for_bit(tmp_path, monkeypatch):
    from tinygrad_gpt import TrainConfig, train
    from tinygrad_gpt.cli import main

    text = "the quick brown fox jumps over the lazy dog. " * 40
    model_config = GPTConfig(block_size=16, n_embd=16, n_head=2, n_layer=2, dropout=0.1)
    schedule = dict(lr_schedule="cosine", warmup_steps=3, min_lr=2e-4, learning_rate=3e-3, grad_clip=0.05)
    runs = {}
    compiled_calls = []
    monkeypatch.setattr(
        tensor, "compile", lambda fn: compiled_calls.append(tensor.fast.compile.compile(fn)) or compiled_calls[-1]
    )
    for compiled in (False, True):
        config = TrainConfig(
            steps=9, batch_size=4, eval_interval=4, eval_iters=2, out_dir=str(tmp_path / str(compiled)), **schedule
        )
        runs[compiled] = train(model_config, config, text, progress=False, log=lambda m: None, compile=compiled)
    assert compiled_calls[0].counts == {"recorded": 2, "replayed": 7, "eager": 0}  # evaluations in between
    assert runs[True].train_losses == runs[False].train_losses
    assert runs[True].evals == runs[False].evals and runs[True].learning_rates == runs[False].learning_rates
    data = tmp_path / "corpus.txt"
    data.write_text(text)
    small = ["--block-size", "16", "--n-embd", "16", "--n-head", "2", "--n-layer", "1", "--batch-size", "4"]
    main(
        [
            "train",
            "--data",
            str(data),
            "--steps",
            "4",
            "--out",
            str(tmp_path / "cli"),
            "--compile",
            "--no-progress",
            "--sample-tokens",
            "0",
            *small,
        ]
    )
    assert compiled_calls[-1].counts["replayed"] == 2


def test_arguments_that_require_grad_or_may_change_run_eagerly_with_a_warning():
    weight = tensor.ones(3, requires_grad=True)
    compiled = tensor.compile(lambda w: (w * 2).sum())
    with pytest.warns(RuntimeWarning, match="argument of shape \\(3,\\) that requires grad"):
        for _ in range(3):
            compiled(weight).backward()
    np.testing.assert_array_equal(weight.grad.numpy(), [6, 6, 6])  # three eager backwards
    filled = tensor.compile(lambda x, cache: cache.setdefault("x", x * 2))
    with pytest.warns(RuntimeWarning, match="mutable argument \\(dict\\)"):
        for _ in range(3):
            assert filled(tensor.ones(2), {}).sum().item() == 4


OPS = {  # unary steps of a random program: each keeps the shape (rows, cols)
    "relu": lambda t, w: t.relu(),
    "tanh": lambda t, w: t.tanh(),
    "scale": lambda t, w: t * 0.5 + 1,
    "softmax": lambda t, w: F.softmax(t, dim=-1),
    "linear": lambda t, w: t @ w,
    "layer_norm": lambda t, w: F.layer_norm(t, (t.shape[-1],)),
    "dropout": lambda t, w: F.dropout(t, 0.3),
    "mask": lambda t, w: t.masked_fill(t > 0.5, 0.0),
    "reuse": lambda t, w: t * t.tanh().sum(dim=-1, keepdim=True),
}


@given(
    program=st.lists(st.sampled_from(sorted(OPS)), min_size=1, max_size=6),
    rows=st.integers(1, 4),
    cols=st.integers(1, 5),
)
def test_a_random_program_replays_its_values_and_gradients(program, rows, cols):
    def run(compiled):
        tensor.manual_seed(11)
        w = tensor.randn(cols, cols, requires_grad=True)

        def f(x):
            t = x @ w  # so that every program has a gradient to compute
            for name in program:
                t = OPS[name](t, w)
            loss = (t * t).sum()
            loss.backward()
            return t

        step = tensor.compile(f) if compiled else f
        rng = np.random.default_rng(0)
        outs = [step(tensor.tensor(rng.standard_normal((rows, cols)), dtype=tensor.float32)) for _ in range(4)]
        return [o.detach().numpy().copy() for o in outs], w.grad.numpy().copy(), getattr(step, "counts", None)

    eager, eager_grad, _ = run(False)
    replayed, grad, counts = run(True)
    assert counts["replayed"] == 2
    for a, b in zip(eager, replayed):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(grad, eager_grad)
