"""What a replay allocates (tensor/fast/replay_buffers.py, tensor/fast/into_forms.py): the ops with an into form
write into the arrays the first replay made, a kept output is never written again, and nothing accumulates
from one replay to the next. Measured with tracemalloc in NumPy's own domain (the arrays' data)."""

import collections
import copy
import gc
import tracemalloc

import numpy as np
import pytest

import nn
import nn.functional as F
import tensor
from benchmarks.compile_equality import training_step
from tensor import optim
from tensor.fast import into_forms
from tensor.fast.steps import OP

from .compile_runs import batches, gpt_model, lecture_model, training_run

NUMPY_DATA = tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)


def numpy_bytes(snapshot):
    return sum(stat.size for stat in snapshot.filter_traces([NUMPY_DATA]).statistics("filename"))


def numpy_peak_of(call):
    """The NumPy data allocated at the peak of call() above what was allocated before it, in bytes."""
    tracemalloc.start()
    try:
        before = numpy_bytes(tracemalloc.take_snapshot())
        tracemalloc.reset_peak()
        start, _ = tracemalloc.get_traced_memory()
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - start, before, result


ROWS, FEATURES = 256, 256
ARRAY_BYTES = ROWS * FEATURES * 4  # 256 KiB: one float32 array of the function below


def forward_of_buffered_ops():
    """A forward of ops that all have an into form; its one output is a new (ROWS,) array at every call."""
    tensor.manual_seed(0)
    linear = nn.Linear(FEATURES, FEATURES)
    scale = tensor.randn(FEATURES)

    @tensor.no_grad()
    def forward(x, condition):
        h = F.relu(linear(x)) * scale + x
        h = tensor.where(condition, h, x)
        h = tensor.cat([h, h @ linear.weight], dim=1)
        return h.sum(dim=1)

    return forward


def test_a_replay_writes_the_ops_outputs_into_the_buffers_of_its_first_replay():
    x, condition = tensor.randn(ROWS, FEATURES), tensor.randn(ROWS, FEATURES) > 0
    eager = forward_of_buffered_ops()
    eager_peak, _, expected = numpy_peak_of(lambda: eager(x, condition).numpy().copy())
    compiled = tensor.compile(forward_of_buffered_ops())
    for _ in range(3):  # two recordings, one replay that makes the buffers
        compiled(x, condition)
    replay_peak, _, result = numpy_peak_of(lambda: compiled(x, condition).numpy().copy())
    assert compiled.counts["replayed"] == 2
    np.testing.assert_array_equal(result, expected)
    # Eager: 7 new arrays of 256 KiB or more. Replayed: the output (1 KiB) and its copy, the sum's and the
    # ops' small temporaries and NumPy's iteration buffer of a broadcasting ufunc (8192 elements, 32 KiB
    # here, whatever the arrays' size): below a quarter of one array, which grows with the model.
    assert eager_peak >= 4 * ARRAY_BYTES
    assert replay_peak < ARRAY_BYTES // 4


def test_an_output_or_a_view_of_one_is_never_a_buffer_written_again():
    tensor.manual_seed(0)
    linear = nn.Linear(8, 8)

    @tensor.no_grad()
    def forward(x):
        return linear(x).reshape(-1), F.relu(linear(x))  # a view of the Linear's output, and an op's output

    compiled = tensor.compile(forward)
    xs = [tensor.randn(4, 8) for _ in range(5)]
    kept = [compiled(x) for x in xs]  # the caller keeps every call's outputs
    assert compiled.counts["replayed"] == 3
    for x, (flat, relu) in zip(xs, kept):
        expected_flat, expected_relu = forward(x)
        np.testing.assert_array_equal(flat.numpy(), expected_flat.numpy())
        np.testing.assert_array_equal(relu.numpy(), expected_relu.numpy())


def replayed_lecture_step(dropout, n_batches, first_steps, make_model=lecture_model):
    """A compiled lecture GPT (or `make_model`'s) training step run on the first batches (recorded, then
    replayed), its batches and its plan."""
    tensor.manual_seed(0)
    model = make_model(dropout)
    optimizer = optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    step = training_step(model, optimizer, max_norm=0.5, compiled=True)
    data = batches(n_batches)
    for x, y in data[:first_steps]:
        step(x, y).item()
    return step, data, next(iter(step._entries.values())).plan


def test_replays_of_a_training_step_accumulate_nothing():
    step, data, plan = replayed_lecture_step(dropout=0.1, n_batches=12, first_steps=4)
    length = len(plan.tape)
    tracemalloc.start()
    try:
        step(*data[4]).item()
        gc.collect()  # the objects of cycles (a step's graph of Python objects) freed now, not later
        settled = tracemalloc.get_traced_memory()[0], numpy_bytes(tracemalloc.take_snapshot())
        for x, y in data[5:]:
            step(x, y).item()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - settled[0], numpy_bytes(tracemalloc.take_snapshot()) - settled[1]
    finally:
        tracemalloc.stop()
    assert step.counts["replayed"] == 10
    assert len(plan.tape) == length  # a replay records nothing
    assert grown[1] == 0  # the arrays alive after a step: the same bytes after 7 more replays
    assert grown[0] < 8192  # all memory, over 7 replays: some of Python's and NumPy's small caches at most


@pytest.mark.parametrize("dropout", [0.0, 0.2])
@pytest.mark.parametrize("make_model", [lecture_model, gpt_model])
def test_buffered_replays_equal_the_eager_steps_bit_for_bit(make_model, dropout):
    eager_losses, eager_parameters, _ = training_run(make_model, compiled=False, steps=8, dropout=dropout)
    losses, parameters, step = training_run(make_model, compiled=True, steps=8, dropout=dropout)
    plan = next(iter(step._entries.values())).plan
    if make_model is lecture_model:
        assert sum(len(s.buffers) for s in plan._sets) >= 20  # most forward outputs of the lecture model
        assert sum(len(s.grad_buffers) for s in plan._sets) >= 12  # Relu, Dropout, Softmax, Mul, where backwards
        assert sum(len(s.pending_arrays) for s in plan._sets) >= 4  # Linear's batched gradients: heads' inputs
    else:  # the fused attention's output and gradients (laid out as q, k, v) at each of 2 blocks
        attention = [i for i, e in enumerate(plan.tape) if e[0] == "op" and e[1].__name__.startswith("Scaled")]
        assert len(attention) == 2
        assert all(plan.tape[i][4] in s.buffers and i in s.grad_buffers for s in plan._sets for i in attention)
    assert losses == eager_losses
    for p, q in zip(parameters, eager_parameters):
        np.testing.assert_array_equal(p, q)


def test_every_into_form_is_of_a_class_that_runs_in_fast_mode():
    """An into form of a class that a stand-in replaces would never run (its class is never recorded)."""
    from tensor import kernels

    for cls in (*into_forms.INTO, *into_forms.BACKWARD_INTO):
        assert kernels.stand_in(cls) is cls, cls


def test_a_gradient_a_hook_keeps_is_never_a_buffer_written_again():
    def run(compiled):
        tensor.manual_seed(0)
        model = lecture_model(0.0)
        optimizer = optim.AdamW(model.parameters(), lr=1e-2)
        seen = []
        for p in model.parameters():
            p.register_hook(lambda g: seen.append(g) or g)  # keeps the tensor it is given
        step = training_step(model, optimizer, max_norm=0.5, compiled=compiled)
        for x, y in batches(6):
            step(x, y).item()
        return [g.numpy().copy() for g in seen], step

    eager, _ = run(False)
    replayed, step = run(True)
    assert step.counts["replayed"] == 4
    assert len(replayed) == len(eager)
    for a, b in zip(replayed, eager):
        np.testing.assert_array_equal(a, b)


def lecture_gpt(vocab, block):
    from benchmarks.lecture_model import GPTLanguageModel

    return GPTLanguageModel(vocab, block, 64, 4, 2, 0.2)  # n_embd 64, 4 heads, 2 blocks, dropout 0.2


def gpt(vocab, block):
    from tinygrad_gpt import GPT, GPTConfig

    return GPT(GPTConfig(vocab_size=vocab, block_size=block, n_embd=64, n_head=4, n_layer=2, dropout=0.2))


@pytest.mark.parametrize("make_model", [lecture_gpt, gpt])
def test_a_replayed_training_step_allocates_a_fixed_few_temporaries(make_model):
    """The whole step: forward, backward, clipping, AdamW. What still allocates is listed in
    tensor/fast/into_forms.py; the bounds below name it."""
    vocab, block, batch = 65, 32, 8
    rng = np.random.default_rng(0)
    data = [tuple(tensor.tensor(rng.integers(vocab, size=(batch, block))) for _ in "xy") for _ in range(6)]

    def step_peak(compiled):
        tensor.manual_seed(0)
        model = make_model(vocab, block)
        optimizer = optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
        step = training_step(model, optimizer, max_norm=0.5, compiled=compiled)
        for x, y in data[:4]:
            step(x, y).item()
        return min(numpy_peak_of(lambda x=x, y=y: step(x, y).item())[0] for x, y in data[4:])

    eager, replayed = step_peak(False), step_peak(True)
    activation = batch * block * 64 * 4  # one (8, 32, 64) float32 array: 64 KiB
    # Measured (NumPy 2.4, all of tracemalloc's domains): the lecture GPT 62 KiB replayed against 3.3 MiB
    # eager. What stays: NumPy's iteration buffer of a ufunc with a broadcast operand (8192 elements, 32 KiB,
    # whatever the arrays' size), small arrays (row statistics, a head's (T, T) mask: about 1 KiB each) and
    # the replay's Python objects (views, tensors). Planted, one at a time: without the kept sums of
    # gradients 148 KiB, without Linear's batched gradient products into kept arrays 373 KiB, without
    # AdamW's kept temporaries 193 KiB (before any of this: 0.54 MiB).
    bound = 1.5 * activation
    if make_model is gpt:
        # Measured 270 KiB against 3.0 MiB. The fused attention's blocks of rows (nn/fast/rows.py) work in
        # temporaries of their own: the scores and the dropped-out weights, one (8, 4, 32, 32) float32
        # array each here (the block is cache-sized, tensor/fast/threads.py's BLOCK_BYTES, so they do not
        # grow with the batch). Without the attention's into form: 1.01 MiB.
        bound += 2 * (batch * 4 * block * block * 4)
    assert replayed < bound, (replayed, eager)
    assert eager > 40 * activation


def into_forms_compared(make_model):
    """At each of 5 replays of a training step, each into form's result compared with the op's own forward
    (or backward) on a copy of its instance, on the same arrays (dropout 0: a forward that draws is held to
    the eager run by the tests above): how many times each was compared."""
    step, data, plan = replayed_lecture_step(dropout=0.0, n_batches=8, first_steps=3, make_model=make_model)
    compared = collections.Counter()

    def as_tuple(value):
        return value if type(value) is tuple else (value,)

    def checked(into, own, name):
        def run(fn, out, *args, **kwargs):
            expected = as_tuple(getattr(copy.copy(fn), own)(*args, **kwargs))
            result = into(fn, out, *args, **kwargs)
            for a, b in zip(as_tuple(result), expected, strict=True):
                assert (a is None) == (b is None), name
                if a is not None:
                    np.testing.assert_array_equal(a, b, err_msg=name)
            compared[name] += 1
            return result

        return run

    for i, s in enumerate(plan.steps):
        if s[0] == OP and s[-1] is not None:
            plan.steps[i] = (*s[:-1], checked(s[-1], "forward", plan.tape[s[1]][1].__name__))
    for i, into in enumerate(plan.backward_into):
        if into is not None:
            plan.backward_into[i] = checked(into, "backward", "backward of " + plan.tape[i][1].__name__)
    for x, y in data[3:]:
        step(x, y).item()
    return compared


def test_every_into_form_gives_its_ops_own_values_at_every_replay():
    compared = into_forms_compared(lecture_model)
    names = {name.split()[-1] for name in compared}
    assert {
        "Linear",
        "LayerNorm",
        "Softmax",
        "Embedding",
        "Cat",
        "FastWhere",
        "BlasMatmul",
        "FastRelu",
        "CrossEntropy",
    } <= names
    assert compared["backward of CrossEntropy"] == 5 and compared["backward of Embedding"] == 2 * 5
    assert compared["backward of Softmax"] >= 4 * 4  # 4 heads' softmax backwards at each of 4 replays


def test_the_gpts_into_forms_give_its_ops_own_values_at_every_replay():
    compared = into_forms_compared(gpt_model)
    assert compared["ScaledDotProductAttention"] == 2 * 5  # 2 blocks, 5 replays
    assert compared["backward of ScaledDotProductAttention"] == 2 * 5
    assert compared["backward of CrossEntropy"] == 5 and compared["LayerNorm"] >= 5 * 5


def test_relu_backward_into_writes_zero_where_x_is_not_positive_also_for_a_nan_or_inf_gradient():
    """The into form of Relu's backward gives the op's own values where a multiply by the mask would give nan."""
    x = tensor.tensor([-1.0, 0.0, 2.0, -3.0, 0.5], requires_grad=True)
    fn = x.relu().grad_fn
    grad = np.array([np.nan, np.inf, np.nan, -np.inf, 1.0], dtype=np.float32)
    out = np.full(5, 7.0, dtype=np.float32)
    result = into_forms.BACKWARD_INTO[type(fn)](fn, out, grad)
    assert result is out
    np.testing.assert_array_equal(result, np.array([0.0, 0.0, np.nan, 0.0, 1.0], dtype=np.float32))
    np.testing.assert_array_equal(result, fn.backward(grad))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_the_fused_gelu_replays_into_its_buffers_bit_for_bit(approximate):
    rows, hidden = 256, 256  # the hidden activation: 256 KiB of float32

    def run(compiled):
        tensor.manual_seed(0)
        mlp = nn.Sequential(nn.Linear(16, hidden), nn.GELU(approximate=approximate), nn.Linear(hidden, 16))
        optimizer = optim.AdamW(mlp.parameters(), lr=1e-2)

        def step(x):
            loss = (mlp(x) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss

        step = tensor.compile(step) if compiled else step
        xs = [tensor.randn(rows, 16) for _ in range(6)]
        losses = [step(x).item() for x in xs[:5]]
        peak, _, loss = numpy_peak_of(lambda: step(xs[5]).item())
        return losses + [loss], [p.detach().numpy().copy() for p in mlp.parameters()], step, peak

    eager_losses, eager_parameters, _, eager_peak = run(False)
    losses, parameters, step, peak = run(True)
    plan = next(iter(step._entries.values())).plan
    gelu = [i for i, e in enumerate(plan.tape) if e[0] == "op" and e[1].__name__ == "FastGELU"]
    assert len(gelu) == 1 and all(plan.tape[gelu[0]][4] in s.buffers and gelu[0] in s.grad_buffers for s in plan._sets)
    assert losses == eager_losses
    for p, q in zip(parameters, eager_parameters):
        np.testing.assert_array_equal(p, q)
    # eager (measured 805 KiB): y, dy/dx, the Linears' outputs and gradients (256 KiB each); replayed
    # (measured 34 KiB): a NumPy iteration buffer (32 KiB) of the bias added to rows, small arrays and
    # Python objects (the GELU's block scratch arrays are its thread's own, kept from call to call)
    activation = rows * hidden * 4
    assert eager_peak > 3 * activation
    assert peak < activation // 2, peak
