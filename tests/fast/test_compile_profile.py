"""tensor.profile over a replayed step (tensor/fast/replay_profile.py): the forms a replay runs in an op's place
(into forms, forms that keep their temporaries, a pending gradient's compute into kept arrays) are timed as the
op, so a profiled replay counts the same ops, as often, as the profiled eager step."""

import pytest

import tensor
from tensor import optim

from .compile_runs import batches, gpt_model, lecture_model


def profiled_calls(make_model, compiled):
    """{op name: calls} and {op name: (forward s, backward s)} of two profiled training steps (no clipping:
    the replay runs clipping as array arithmetic, the eager step as tensor ops)."""
    tensor.manual_seed(0)
    model = make_model(0.1)
    optimizer = optim.AdamW(model.parameters(), lr=1e-3)

    def train_step(x, y):
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    step = tensor.compile(train_step) if compiled else train_step
    data = batches(5)
    for x, y in data[:3]:
        step(x, y).item()
    with tensor.profile() as profile:
        for x, y in data[3:]:
            step(x, y).item()
    if compiled:
        assert step.counts["replayed"] >= 2
    records = dict(profile.records)
    return {name: r[0] for name, r in records.items()}, {name: (r[1], r[2]) for name, r in records.items()}


@pytest.mark.parametrize("make_model", [lecture_model, gpt_model], ids=["lecture", "gpt"])
def test_a_profiled_replay_counts_every_op_as_often_as_the_profiled_eager_step(make_model):
    with tensor.kernels.using("fast"):  # the replay and its into forms are the engine room's
        eager_calls, _ = profiled_calls(make_model, compiled=False)
        replayed_calls, replayed_seconds = profiled_calls(make_model, compiled=True)
    assert replayed_calls == eager_calls
    assert {"Linear", "LayerNorm"} <= {name for name, (forward, backward) in replayed_seconds.items() if forward > 0}
    # the Linears' batched gradient products, computed into kept arrays
    assert replayed_seconds["LinearGradients"][1] > 0
