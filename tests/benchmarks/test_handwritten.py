"""The hand-written NumPy step (benchmarks/handwritten.py) is the floor the framework is timed
against, so it must compute the same thing: the same loss, every parameter's gradient and the
same AdamW update as the framework running the lecture model, from the same weights (float64).
And the lecture model's one source runs on PyTorch too, with the same result."""

import numpy as np
import pytest

import tensor
from benchmarks.handwritten import HandwrittenGPT
from benchmarks.implementations import lecture_model

CONFIG = {"vocab": 11, "block": 6, "n_embd": 8, "n_head": 2, "n_layer": 2}


def _lecture_in_float64(framework="ours"):
    """The lecture model in float64; on "torch" with PyTorch's initial weights (tests copy ours in)."""
    model = lecture_model(framework).GPTLanguageModel(
        CONFIG["vocab"], CONFIG["block"], CONFIG["n_embd"], CONFIG["n_head"], CONFIG["n_layer"]
    )
    model = model.double()
    if framework == "ours":  # biases and LayerNorm weights away from their initial 0 and 1, so every term counts
        rng = np.random.default_rng(2)
        for p in model.parameters():
            p._array += rng.normal(0.0, 0.1, p.shape)
    return model


def _batch(T=5):
    rng = np.random.default_rng(1)
    return (rng.integers(CONFIG["vocab"], size=(3, T)) for _ in range(2))


def _handwritten_from(model):
    hand = HandwrittenGPT(
        CONFIG["vocab"], CONFIG["block"], CONFIG["n_embd"], CONFIG["n_head"], CONFIG["n_layer"], dtype=np.float64
    )
    hand.load_lecture_state_dict({name: value.detach().numpy() for name, value in model.state_dict().items()})
    return hand


def test_handwritten_loss_and_every_gradient_equal_the_frameworks():
    model = _lecture_in_float64()
    hand = _handwritten_from(model)
    x, y = _batch()  # T = 5 < block_size: the position table's last row gets a zero gradient
    _, loss = model(tensor.tensor(x), tensor.tensor(y))
    loss.backward()
    hand_loss = hand.loss_and_gradients(x, y)
    np.testing.assert_allclose(hand_loss, loss.item(), rtol=1e-12)
    names = [name for name, _ in model.named_parameters()]
    assert sorted(names) == sorted(lecture for lecture, _, _ in hand.lecture_names())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(hand.lecture_gradient(name), p.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_handwritten_adamw_steps_equal_the_frameworks():
    model = _lecture_in_float64()
    hand = _handwritten_from(model)
    optimizer = tensor.optim.AdamW(model.parameters(), lr=1e-2)
    x, y = _batch()
    for _ in range(3):
        _, loss = model(tensor.tensor(x), tensor.tensor(y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        hand.train_step(x, y, lr=1e-2)
    updated = _handwritten_from(model)  # the framework's weights after three steps, in our layout
    np.testing.assert_allclose(hand.flat_params, updated.flat_params, rtol=1e-9, atol=1e-12)


def test_loading_a_state_dict_that_does_not_fit_names_the_problem():
    model = _lecture_in_float64()
    hand = _handwritten_from(model)
    state = {name: value.detach().numpy() for name, value in model.state_dict().items()}
    del state["lm_head.bias"]
    with pytest.raises(ValueError, match="missing.*lm_head.bias"):
        hand.load_lecture_state_dict(state)
    state["lm_head.bias"] = np.zeros(CONFIG["vocab"] + 1)
    with pytest.raises(ValueError, match="lm_head.bias: shape"):
        hand.load_lecture_state_dict(state)


def test_the_lecture_model_source_runs_on_pytorch_with_the_same_loss_and_gradients():
    torch = pytest.importorskip("torch")
    ours = _lecture_in_float64("ours")
    theirs = _lecture_in_float64("torch")
    assert isinstance(theirs, torch.nn.Module)
    theirs.load_state_dict(
        {name: torch.from_numpy(value.detach().numpy()) for name, value in ours.state_dict().items()}
    )
    x, y = _batch()
    _, loss = ours(tensor.tensor(x), tensor.tensor(y))
    _, torch_loss = theirs(torch.from_numpy(x), torch.from_numpy(y))
    loss.backward()
    torch_loss.backward()
    np.testing.assert_allclose(loss.item(), torch_loss.item(), rtol=1e-12)
    torch_grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), torch_grads[name].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
