"""tensor.compile (tensor/fast/compile.py): a call recorded on its first calls and replayed after.

Each test compares a compiled run with the same run eager, from the same seed: a replay runs the eager
call's array work in the same order, so losses, parameters and random draws are equal bit for bit.
`counts` proves the replay happened. The tests set fast mode (compile is an engine-room device) and
restore the mode after, so they run the same in either pass of CI.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nn
import nn.functional as F
import tensor
from tensor import kernels, optim
from tinygrad_gpt import GPT, GPTConfig

VOCAB, BLOCK, BATCH = 13, 8, 3


@pytest.fixture(autouse=True)
def fast_mode():
    previous = kernels.get_kernels()
    kernels.set_kernels("fast")
    yield
    kernels.set_kernels(previous)


def lecture_model(dropout):
    from benchmarks.lecture_model import GPTLanguageModel

    return GPTLanguageModel(VOCAB, BLOCK, 16, 2, 2, dropout)


def gpt_model(dropout):
    return GPT(GPTConfig(vocab_size=VOCAB, block_size=BLOCK, n_embd=16, n_head=2, n_layer=2, dropout=dropout))


def warmup_cosine(steps, warmup=3):
    return lambda t: (t + 1) / (warmup + 1) if t < warmup else 0.5 * (1 + math.cos(math.pi * (t - warmup) / steps))


def batches(count, device="cpu", seed=1):
    rng = np.random.default_rng(seed)
    return [
        tuple(tensor.tensor(rng.integers(VOCAB, size=(BATCH, BLOCK)), device=device) for _ in range(2))
        for _ in range(count)
    ]


def training_run(make_model, compiled, steps=20, device="cpu", seed=0, dropout=0.2):
    """Losses and final parameters of `steps` steps: dropout, AdamW, warm-up + cosine schedule, clipping."""
    tensor.manual_seed(seed)
    model = make_model(dropout).to(device)
    optimizer = optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    scheduler = optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(steps))

    def train_step(x, y):
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
        return loss

    step = tensor.compile(train_step) if compiled else train_step
    losses = []
    for x, y in batches(steps, device):
        losses.append(step(x, y).item())
        scheduler.step()
    parameters = [p.detach().cpu().numpy().copy() for p in model.parameters()]
    return losses, parameters, step


@pytest.mark.parametrize("make_model", [lecture_model, gpt_model], ids=["lecture", "gpt"])
def test_twenty_replayed_steps_equal_the_eager_steps_bit_for_bit(make_model):
    eager_losses, eager_parameters, _ = training_run(make_model, compiled=False)
    losses, parameters, step = training_run(make_model, compiled=True)
    assert step.counts == {"recorded": 2, "replayed": 18, "eager": 0}
    assert losses == eager_losses
    assert len(set(losses)) == len(losses)  # each step's own loss, not a stale one
    for p, q in zip(parameters, eager_parameters):
        np.testing.assert_array_equal(p, q)


def graph_launches(compiled):
    from tensor.fast.graphs import GraphSegment

    plans = [entry.plan for entry in compiled._entries.values() if entry.plan is not None]
    return [s.launches for plan in plans for s in plan.segments or () if isinstance(s, GraphSegment)]


@pytest.mark.parametrize("make_model", [lecture_model, gpt_model], ids=["lecture", "gpt"])
@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_on_the_cupy_stand_in_replays_equal_the_eager_steps_as_cuda_graphs_without_dropout(
    fake_cuda, make_model, dropout
):
    eager_losses, eager_parameters, _ = training_run(make_model, False, steps=6, device="cuda", dropout=dropout)
    losses, parameters, step = training_run(make_model, True, steps=6, device="cuda", dropout=dropout)
    assert step.counts["replayed"] == 4
    # forward and backward, split by zero_grad, each one graph launched at every replay; with dropout
    # the forward's capture fails (a random draw) and every replay runs op by op
    assert graph_launches(step) == ([4, 4] if dropout == 0 else [0, 0])
    if dropout:  # op by op: the same array calls, bit for bit
        assert losses == eager_losses
    else:  # a captured product runs through cuBLAS itself (tensor/fast/cublas.py), not CuPy's matmul
        np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for p, q in zip(parameters, eager_parameters):
        # (biases whose gradient is round-off move by round-off under Adam: an absolute bound)
        np.testing.assert_allclose(p, q, rtol=0 if dropout else 1e-4, atol=0 if dropout else 1e-4)


def test_dropout_draws_a_fresh_mask_at_every_replay_from_the_same_stream():
    x = tensor.ones(64)

    def drop(x):
        return F.dropout(x * 2, p=0.5)

    tensor.manual_seed(3)
    eager = [drop(x).numpy().copy() for _ in range(5)]
    tensor.manual_seed(3)
    compiled = tensor.compile(drop)
    replayed = [compiled(x).numpy().copy() for _ in range(5)]
    assert compiled.counts["replayed"] == 3
    for a, b in zip(eager, replayed):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(replayed[3], replayed[4])


def test_sampling_draws_fresh_numbers_at_every_replay():
    probabilities = tensor.tensor([[0.1, 0.2, 0.3, 0.4]] * 8)

    def sample(p):
        return tensor.multinomial(p * 1.0, num_samples=1)

    tensor.manual_seed(5)
    eager = [sample(probabilities).numpy().copy() for _ in range(6)]
    tensor.manual_seed(5)
    compiled = tensor.compile(sample)
    replayed = [compiled(probabilities).numpy().copy() for _ in range(6)]
    assert compiled.counts["replayed"] == 4
    for a, b in zip(eager, replayed):
        np.testing.assert_array_equal(a, b)
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


def test_a_compiled_module_keeps_its_state_dict_keys_and_methods_and_its_backward_matches():
    tensor.manual_seed(0)
    model = gpt_model(0.0)
    compiled = tensor.compile(model)
    assert isinstance(compiled, GPT) and compiled._orig_mod is model
    assert list(compiled.state_dict()) == list(model.state_dict())
    prefixed = {"_orig_mod." + k: v for k, v in model.state_dict().items()}  # as nanoGPT's checkpoints hold it
    compiled.load_state_dict({k.removeprefix("_orig_mod."): v for k, v in prefixed.items()})
    assert compiled.num_parameters() == model.num_parameters()
    for x, y in batches(4):
        model.zero_grad()
        _, loss = model(x, y)
        loss.backward()
        eager = [p.grad.numpy().copy() for p in model.parameters()]
        model.zero_grad()
        _, replayed_loss = compiled(x, y)
        replayed_loss.backward()
        assert replayed_loss.item() == loss.item()
        for p, g in zip(model.parameters(), eager):
            np.testing.assert_array_equal(p.grad.numpy(), g)
    assert compiled._compiled_call.counts["replayed"] == 2


def test_a_compiled_module_follows_train_and_eval():
    tensor.manual_seed(0)
    model = lecture_model(0.5)
    compiled = tensor.compile(model)
    ((x, y),) = batches(1)
    for _ in range(3):
        compiled(x, y)
    compiled.eval()
    with tensor.no_grad():
        outs = [compiled(x, y)[1].item() for _ in range(3)]
        assert outs == [model(x, y)[1].item()] * 3  # no dropout in eval mode
    assert compiled._compiled_call.counts["replayed"] == 2


def test_two_calls_before_one_backward_keep_their_own_buffers():
    tensor.manual_seed(0)
    model = gpt_model(0.0)
    compiled = tensor.compile(model)
    (x1, y1), (x2, y2) = batches(2)
    for _ in range(2):
        compiled(x1, y1)
    model.zero_grad()
    (model(x1, y1)[1] + model(x2, y2)[1]).backward()
    eager = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    (compiled(x1, y1)[1] + compiled(x2, y2)[1]).backward()  # gradient accumulation over two micro-batches
    assert compiled._compiled_call.counts["replayed"] == 2
    for p, g in zip(model.parameters(), eager):
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-6, atol=1e-7)


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


def test_a_replay_checks_the_indices_as_the_eager_call_does():
    tensor.manual_seed(0)
    model = tensor.compile(gpt_model(0.0))
    ((x, y),) = batches(1)
    for _ in range(3):
        model(x, y)
    assert model._compiled_call.counts["replayed"] == 1
    bad = x.detach().numpy().copy()
    bad[0, 0] = -1  # NumPy would wrap it silently
    with pytest.raises(IndexError, match="embedding: index -1 is out of range"):
        model(tensor.tensor(bad), y)
    assert model._compiled_call.counts["replayed"] == 2


def test_compile_as_a_method_decorator_follows_each_instance_and_its_mode():
    class Twice(nn.Module):
        def __init__(self, p):
            super().__init__()
            self.p = p

        @tensor.compile
        def forward(self, x):
            return F.dropout(x, self.p, self.training) * 2

    a, b = Twice(0.5), Twice(0.0)
    x = tensor.ones(16)
    for _ in range(3):
        assert a(x).sum().item() != 32 and b(x).sum().item() == 32
    a.eval()
    assert a(x).sum().item() == 32  # eval: a new signature, no dropout
    assert Twice.forward.counts["replayed"] == 2


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


def test_a_compiled_modules_graph_runs_backward_once():
    tensor.manual_seed(0)
    model = tensor.compile(gpt_model(0.0))
    ((x, y),) = batches(1)
    for _ in range(2):
        model(x, y)
    logits, loss = model(x, y)
    assert model._compiled_call.counts["replayed"] == 1
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through a compiled call's graph a second time"):
        logits.sum().backward()


def test_an_in_place_write_between_a_replayed_forward_and_its_backward_is_refused():
    tensor.manual_seed(0)
    model = tensor.compile(gpt_model(0.0))
    ((x, y),) = batches(1)
    for _ in range(2):
        model(x, y)
    _, loss = model(x, y)
    with tensor.no_grad():
        model.lm_head.weight.mul_(0.5)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


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


def test_a_compiled_module_on_the_cupy_stand_in_matches_the_eager_module(fake_cuda):
    tensor.manual_seed(0)
    model = gpt_model(0.0).to("cuda")
    compiled = tensor.compile(model)
    for x, y in batches(3, device="cuda"):
        model.zero_grad()
        _, loss = model(x, y)
        loss.backward()
        eager = [p.grad.cpu().numpy().copy() for p in model.parameters()]
        model.zero_grad()
        _, replayed = compiled(x, y)
        replayed.backward()
        assert replayed.item() == loss.item()
        for p, g in zip(model.parameters(), eager):
            np.testing.assert_array_equal(p.grad.cpu().numpy(), g)
    assert compiled._compiled_call.counts["replayed"] == 1
