"""tensor.compile on a Module (nanoGPT's `model = torch.compile(model)`) and as a method decorator: the
wrapper is the module (state_dict keys, methods), its outputs carry the recorded backward.
"""

import numpy as np
import pytest

import nn
import nn.functional as F
import tensor
from tinygrad_gpt import GPT

from .compile_runs import batches, gpt_model, lecture_model


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


def test_compile_as_a_method_decorator_follows_each_instance_and_its_mode():
    class Twice(nn.Module):
        def __init__(self, p):
            super().__init__()
            self.p = p

        @tensor.compile
        def forward(self, x):
            return F.dropout(x, self.p, self.training) * 2

    a, b = Twice(0.5), Twice(0.0)
    x = tensor.ones(64)
    for _ in range(3):  # dropout at p = 0.5 zeroes some of 64 elements but for a chance of 2^-64
        assert (a(x).numpy() == 0).any() and (b(x).numpy() == 2).all()
    a.eval()
    assert (a(x).numpy() == 2).all()  # eval: a new signature, no dropout
    assert Twice.forward.counts["replayed"] == 2


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
