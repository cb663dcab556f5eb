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


def _adam_reference(lr, betas, eps, wd, decoupled, maximize=False, amsgrad=False):
    p, m, v, v_max = START.copy(), np.zeros(2), np.zeros(2), np.zeros(2)
    for t in range(1, 4):
        g = -quadratic_grad(p) if maximize else quadratic_grad(p)
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        v_max = np.maximum(v_max, v)
        m_hat, v_hat = m / (1 - betas[0] ** t), (v_max if amsgrad else v) / (1 - betas[1] ** t)
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


def test_sgd_maximize_climbs_the_gradient(device):
    p = START.copy()
    for _ in range(3):
        p = p + 0.1 * quadratic_grad(p)
    np.testing.assert_allclose(run(lambda ps: optim.SGD(ps, lr=0.1, maximize=True), device=device), p, rtol=1e-12)


@pytest.mark.parametrize("make", [optim.Adam, optim.AdamW])
@pytest.mark.parametrize("maximize, amsgrad", [(True, False), (False, True), (True, True)])
def test_adam_maximize_and_amsgrad(device, make, maximize, amsgrad):
    got = run(lambda ps: make(ps, lr=0.1, weight_decay=0.1, maximize=maximize, amsgrad=amsgrad), device=device)
    expected = _adam_reference(0.1, (0.9, 0.999), 1e-8, 0.1, make is optim.AdamW, maximize, amsgrad)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


@pytest.mark.parametrize("options", [dict(momentum=0.9, dampening=0.5, nesterov=True), dict(nesterov=True)])
def test_nesterov_without_momentum_or_with_dampening_is_refused(options):
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        optim.SGD([tensor.zeros(2, requires_grad=True)], lr=0.1, **options)


def test_adamw_steps_a_zero_dimensional_parameter():
    p = tensor.tensor(2.0, requires_grad=True)
    optimizer = optim.AdamW([p], lr=0.1)
    for _ in range(2):
        optimizer.zero_grad()
        (p * p).backward()
        optimizer.step()
    assert p.shape == () and p.item() < 2.0 - 0.19  # two steps of about lr each, downhill
