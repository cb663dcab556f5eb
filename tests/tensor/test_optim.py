"""Optimizers take the steps PyTorch's update formulas give, computed here by hand."""

import math

import numpy as np
import pytest

import tensor
from tensor import optim

START = np.array([1.0, -2.0])


def quadratic_grad(p):
    """Gradient of the fixed quadratic f(p) = sum(a * p^2) / 2 with a = (1, 3)."""
    return np.array([1.0, 3.0]) * p


def run(make_optimizer, steps=3, device="cpu"):
    p = tensor.tensor(START, dtype=tensor.float64, device=device, requires_grad=True)
    opt = make_optimizer([p])
    for _ in range(steps):
        opt.zero_grad()
        (tensor.tensor([1.0, 3.0], dtype=tensor.float64, device=device) * p * p / 2).sum().backward()
        opt.step()
    return p.detach().cpu().numpy()


def test_sgd_plain(device):
    p = START.copy()
    for _ in range(3):
        p = p - 0.1 * quadratic_grad(p)
    np.testing.assert_allclose(run(lambda ps: optim.SGD(ps, lr=0.1), device=device), p, rtol=1e-12)


def _sgd_momentum_reference(lr, mu, dampening, wd, nesterov):
    p, buf = START.copy(), None
    for _ in range(3):
        g = quadratic_grad(p) + wd * p
        buf = g.copy() if buf is None else mu * buf + (1 - dampening) * g
        p = p - lr * (g + mu * buf if nesterov else buf)
    return p


def test_sgd_momentum_with_dampening_and_weight_decay(device):
    got = run(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01), device=device)
    np.testing.assert_allclose(got, _sgd_momentum_reference(0.1, 0.9, 0.1, 0.01, nesterov=False), rtol=1e-12)


def test_sgd_nesterov_momentum(device):
    got = run(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True), device=device)
    np.testing.assert_allclose(got, _sgd_momentum_reference(0.1, 0.9, 0.0, 0.01, nesterov=True), rtol=1e-12)


def _adam_reference(lr, betas, eps, wd, decoupled):
    p, m, v = START.copy(), np.zeros(2), np.zeros(2)
    for t in range(1, 4):
        g = quadratic_grad(p)
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def test_adam_with_l2_weight_decay(device):
    got = run(lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.1), device=device)
    np.testing.assert_allclose(got, _adam_reference(0.1, (0.9, 0.999), 1e-8, 0.1, decoupled=False), rtol=1e-10)


def test_adamw_decoupled_weight_decay_and_pytorch_defaults(device):
    opt = optim.AdamW([tensor.zeros(1, requires_grad=True)])
    group = opt.param_groups[0]
    assert (group["lr"], group["betas"], group["eps"], group["weight_decay"]) == (1e-3, (0.9, 0.999), 1e-8, 1e-2)
    got = run(lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.5), device=device)
    np.testing.assert_allclose(got, _adam_reference(0.1, (0.9, 0.999), 1e-8, 0.5, decoupled=True), rtol=1e-10)


def test_zero_grad_sets_to_none_or_zeros():
    p = tensor.ones(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * 2).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None


def test_state_dict_round_trip_resumes_exactly():
    def make(ps):
        return optim.AdamW(ps, lr=0.05)

    p = tensor.tensor(START, dtype=tensor.float64, requires_grad=True)
    opt = make([p])
    for _ in range(2):
        opt.zero_grad()
        (p * p).sum().backward()
        opt.step()
    saved_params, saved_state = p.detach().clone(), opt.state_dict()
    assert saved_state["state"][0]["step"] == 2 and saved_state["param_groups"][0]["params"] == [0]

    def one_more_step(param, optimizer):
        optimizer.zero_grad()
        (param * param).sum().backward()
        optimizer.step()
        return param.detach().numpy().copy()

    expected = one_more_step(p, opt)
    q = tensor.tensor(saved_params.numpy(), dtype=tensor.float64, requires_grad=True)
    opt2 = make([q])
    opt2.load_state_dict(saved_state)
    np.testing.assert_array_equal(one_more_step(q, opt2), expected)


def test_param_group_lr_can_be_changed_between_steps():
    p = tensor.ones(1, requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    for group in opt.param_groups:
        group["lr"] = 0.5
    (p * 1).sum().backward()
    opt.step()
    assert p.item() == pytest.approx(0.5) and not math.isnan(p.item())


# ----- Adam over flat arrays: the same arithmetic as one parameter at a time --------------------------


def _adam_one_at_a_time(optimizer):
    """The per-parameter step (what step() did before it worked on flat arrays)."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.grad is not None:
                state = optimizer.state.setdefault(id(p), {})
                if not state:
                    state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
                optimizer._update(p, p.grad.data, state, group)


def _parameters(seed):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (1,), (130, 130), (2, 3, 2), (5,)]  # (130, 130): above STEP_TOGETHER_BELOW
    return [tensor.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in shapes]


def _set_gradients(params, seed, skip=()):
    rng = np.random.default_rng(seed)
    for i, p in enumerate(params):
        p.grad = None if i in skip else tensor.tensor(rng.standard_normal(p.shape).astype(np.float32))


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
