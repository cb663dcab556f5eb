"""tensor.compile on "cuda", on the CuPy stand-in: replays as CUDA graphs (tensor/fast/graphs.py), or op by
op where a capture cannot record (dropout), equal to the eager steps.
"""

import numpy as np
import pytest

import tensor
from tensor import kernels
from tests.fast.compile_runs import batches, gpt_model, graph_launches, lecture_model, training_run


@pytest.fixture(autouse=True)
def fast_mode():
    previous = kernels.get_kernels()
    kernels.set_kernels("fast")
    yield
    kernels.set_kernels(previous)


@pytest.mark.parametrize("make_model", [lecture_model, gpt_model], ids=["lecture", "gpt"])
@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_on_the_cupy_stand_in_replays_equal_the_eager_steps_as_cuda_graphs_or_op_by_op(fake_cuda, make_model, dropout):
    eager_losses, eager_parameters, _ = training_run(make_model, False, steps=6, device="cuda", dropout=dropout)
    losses, parameters, step = training_run(make_model, True, steps=6, device="cuda", dropout=dropout)
    assert step.counts["replayed"] == 4
    # forward and backward, split by zero_grad, each one graph launched at every replay; with dropout
    # the forward's capture fails (a random draw) and every replay runs op by op
    assert graph_launches(step) == ([4, 4] if dropout == 0 else [0, 0])
    # op by op, or as graphs whose captured products run as the stand-in's matmul runs them (the row-major
    # product, tests/support/fake_cupy_cublas.py): the same array calls, bit for bit
    assert losses == eager_losses
    for p, q in zip(parameters, eager_parameters):
        np.testing.assert_array_equal(p, q)


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
