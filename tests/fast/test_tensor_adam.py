"""The engine room's Adam step (tensor/fast/adam.py) against the textbook's (Adam._update): over flat arrays
it is bit for bit the engine room's own one-parameter-at-a-time arithmetic, and within float32 round-off
the textbook's, for every option, on "cpu" and on the CuPy stand-in."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensor
from tensor import optim
from tensor.fast import adam as fast_adam


def _adam_one_at_a_time(optimizer):
    """The engine room's per-parameter step (what its flat step does to each parameter's elements)."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.grad is not None:
                state = optimizer.state.setdefault(id(p), {})
                if not state:
                    optimizer._init_state(p, state, group)
                state["step"] += 1
                arrays = (p._array, p.grad._array, state["exp_avg"], state["exp_avg_sq"], state["step"])
                fast_adam.adam_arrays(p._xp, *arrays, group)


def _parameters(seed, device="cpu", shapes=((3, 4), (4,), (1,), (130, 130), (2, 3, 2), (5,))):
    rng = np.random.default_rng(seed)  # (130, 130): above STEP_TOGETHER_BELOW, a step of its own
    return [tensor.tensor(rng.standard_normal(s).astype(np.float32), device=device, requires_grad=True) for s in shapes]


def _set_gradients(params, seed, skip=()):
    rng = np.random.default_rng(seed)
    for i, p in enumerate(params):
        grad = rng.standard_normal(p.shape).astype(np.float32)
        p.grad = None if i in skip else tensor.tensor(grad, device=p.device)


@pytest.mark.parametrize(
    "make", [lambda ps: optim.AdamW(ps, lr=0.1), lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.1)]
)
def test_adam_over_flat_arrays_equals_one_parameter_at_a_time_bit_for_bit(make):
    flat_params, single_params = _parameters(0), _parameters(0)
    flat, single = make(flat_params), make(single_params)
    skips = [(), (), (1,), (3,), ()]  # a parameter without a gradient: steps apart from the others after that
    for step, skip in enumerate(skips):
        _set_gradients(flat_params, step, skip)
        _set_gradients(single_params, step, skip)
        flat.step()
        _adam_one_at_a_time(single)
        for a, b in zip(flat_params, single_params):
            np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    for key, state in single.state_dict()["state"].items():
        for name in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(flat.state_dict()["state"][key][name].numpy(), state[name].numpy())
        assert flat.state_dict()["state"][key]["step"] == state["step"]


def test_adam_over_flat_arrays_takes_the_state_that_load_state_dict_gives():
    params, reference_params = _parameters(1), _parameters(1)
    opt, reference = optim.AdamW(params, lr=0.1), optim.AdamW(reference_params, lr=0.1)
    for step in range(2):
        _set_gradients(params, step)
        _set_gradients(reference_params, step)
        opt.step()
        reference.step()
    saved = reference.state_dict()
    for state in saved["state"].values():  # a different state, so a stale flat array would show
        state["exp_avg"] = state["exp_avg"] * 2
    opt.load_state_dict(saved)
    reference.load_state_dict(saved)
    _set_gradients(params, 5)
    _set_gradients(reference_params, 5)
    opt.step()
    _adam_one_at_a_time(reference)
    for a, b in zip(params, reference_params):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_the_state_dict_of_adam_over_flat_arrays_has_pytorchs_layout():
    params = _parameters(2)
    opt = optim.AdamW(params)
    _set_gradients(params, 0)
    opt.step()
    state = opt.state_dict()["state"]
    assert sorted(state) == list(range(len(params)))
    for i, p in enumerate(params):
        assert sorted(state[i]) == ["exp_avg", "exp_avg_sq", "step"]
        assert state[i]["exp_avg"].shape == p.shape


def _textbook_step(optimizer):
    for group in optimizer.param_groups:
        optim.Adam._step_group.__wrapped__(optimizer, group)


OPTIONS = st.fixed_dictionaries(
    {
        "lr": st.sampled_from([1e-3, 0.1]),
        "weight_decay": st.sampled_from([0.0, 0.1]),
        "betas": st.sampled_from([(0.9, 0.999), (0.5, 0.9)]),
        "amsgrad": st.booleans(),
        "maximize": st.booleans(),
    }
)
SHAPES = st.lists(
    st.sampled_from([(), (1,), (3, 4), (5,), (2, 3, 2), (130, 130)]), min_size=1, max_size=5
)  # () : a 0-d parameter


@given(options=OPTIONS, decoupled=st.booleans(), shapes=SHAPES, skip=st.sets(st.integers(0, 4), max_size=2))
def test_the_engine_rooms_adam_step_equals_the_textbooks(options, decoupled, shapes, skip):
    """Four steps of each, from the same parameters and gradients (one parameter may miss a gradient on a
    step), for every option: the same parameters and state within float32 round-off."""
    make = optim.AdamW if decoupled else optim.Adam
    fast_params, textbook_params = _parameters(3, shapes=shapes), _parameters(3, shapes=shapes)
    fast, textbook = make(fast_params, **options), make(textbook_params, **options)
    for step in range(4):
        missing = skip if step == 2 else ()
        _set_gradients(fast_params, step, missing)
        _set_gradients(textbook_params, step, missing)
        fast_adam.adam_step_group(fast, fast.param_groups[0])
        _textbook_step(textbook)
    for a, b in zip(fast_params, textbook_params):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=2e-5, atol=1e-6)
    for key, state in textbook.state_dict()["state"].items():
        fast_state = fast.state_dict()["state"][key]
        assert sorted(fast_state) == sorted(state) and fast_state["step"] == state["step"]
        for name in set(state) - {"step"}:
            np.testing.assert_allclose(fast_state[name].numpy(), state[name].numpy(), rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize("make", [optim.Adam, optim.AdamW])
@pytest.mark.parametrize("capturable", [False, True])
def test_the_engine_rooms_adam_step_equals_the_textbooks_on_the_cupy_stand_in(fake_cuda, make, capturable):
    """On "cuda" (the stand-in compiles no kernel: the array operations, with a step count on the device
    when capturable)."""
    shapes = ((3, 4), (), (5,))
    fast_params, textbook_params = _parameters(4, "cuda", shapes), _parameters(4, "cuda", shapes)
    options = dict(lr=0.1, weight_decay=0.1, capturable=capturable)
    fast, textbook = make(fast_params, **options), make(textbook_params, **options)
    for step in range(3):
        _set_gradients(fast_params, step)
        _set_gradients(textbook_params, step)
        fast.step()
        _textbook_step(textbook)
    if capturable:
        assert tensor.backend.device_of(fast.state[id(fast_params[0])]["step"]) == "cuda"
    for a, b in zip(fast_params, textbook_params):
        np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().cpu().numpy(), rtol=2e-5, atol=1e-6)


def test_fast_mode_runs_the_engine_rooms_step_and_reference_mode_the_textbooks(kernels, monkeypatch):
    calls = []
    monkeypatch.setattr(fast_adam, "adam_arrays", lambda *args: calls.append(args))
    params = _parameters(5, shapes=((3,),))
    _set_gradients(params, 0)
    opt = optim.AdamW(params)
    opt.step()
    assert len(calls) == 1
    kernels("reference")
    opt.step()
    assert len(calls) == 1
