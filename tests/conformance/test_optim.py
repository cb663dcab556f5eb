"""Optimizers against PyTorch: several steps of each, with every option, from the same weights and gradients."""

import numpy as np
import pytest

from tests.conformance.oracle import OURS, TORCH

OPTIONS = {
    "SGD": [
        dict(lr=0.1),
        dict(lr=0.05, momentum=0.9),
        dict(lr=0.05, momentum=0.9, dampening=0.5),
        dict(lr=0.05, momentum=0.9, nesterov=True),
        dict(lr=0.05, weight_decay=0.1),
        dict(lr=0.05, momentum=0.8, weight_decay=0.01, nesterov=True),
        dict(lr=0.05, maximize=True),
        dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True),
        dict(lr=0.05, momentum=0.9, dampening=0.3, maximize=True, foreach=False),
    ],
    "Adam": [
        dict(),
        dict(lr=0.01),
        dict(lr=0.01, betas=(0.8, 0.99)),
        dict(lr=0.01, eps=1e-3),
        dict(lr=0.01, weight_decay=0.1),
        dict(lr=0.01, maximize=True),
        dict(lr=0.01, amsgrad=True),
        dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.1),
        dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
        dict(lr=0.01, foreach=True),
    ],
    "AdamW": [
        dict(),
        dict(lr=0.01),
        dict(lr=0.01, weight_decay=0.0),
        dict(lr=0.01, weight_decay=0.5, betas=(0.5, 0.9)),
        dict(lr=0.01, eps=1e-2),
        dict(lr=0.01, maximize=True),
        dict(lr=0.01, amsgrad=True, weight_decay=0.5),
        dict(lr=0.01, amsgrad=True, maximize=True),
    ],
}
CASES = [
    pytest.param(name, options, id=f"{name}-{'-'.join(f'{k}={v}' for k, v in options.items()) or 'defaults'}")
    for name, all_options in OPTIONS.items()
    for options in all_options
]


def trajectory(ns, name, options, steps=5, set_to_none=True):
    """Parameters after each of `steps` steps on a fixed quadratic-plus-tanh loss."""
    rng = np.random.default_rng(0)
    w = ns.torch.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = ns.torch.tensor(rng.standard_normal(4), requires_grad=True)
    x = ns.torch.tensor(rng.standard_normal((5, 3)))
    optimizer = getattr(ns.optim, name)([w, b], **options)
    history = []
    for _ in range(steps):
        loss = ((x @ w + b).tanh() ** 2).sum() + (w * w).sum() * 0.1
        optimizer.zero_grad(set_to_none=set_to_none)
        loss.backward()
        optimizer.step()
        history.append((w.detach().numpy().copy(), b.detach().numpy().copy()))
    return history, optimizer


@pytest.mark.parametrize("name, options", CASES)
def test_optimizer_steps_match_pytorch(name, options):
    expected, _ = trajectory(TORCH, name, options)
    actual, _ = trajectory(OURS, name, options)
    for step, ((tw, tb), (ow, ob)) in enumerate(zip(expected, actual)):
        np.testing.assert_allclose(ow, tw, rtol=1e-9, atol=1e-12, err_msg=f"weight after step {step + 1}")
        np.testing.assert_allclose(ob, tb, rtol=1e-9, atol=1e-12, err_msg=f"bias after step {step + 1}")


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_zero_grad_without_set_to_none_keeps_zero_tensors_as_pytorch(name):
    expected, _ = trajectory(TORCH, name, {}, steps=3, set_to_none=False)
    actual, _ = trajectory(OURS, name, {}, steps=3, set_to_none=False)
    np.testing.assert_allclose(actual[-1][0], expected[-1][0], rtol=1e-9)


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_default_hyperparameters_match_pytorch(name):
    def defaults(ns):
        w = ns.torch.zeros(2, requires_grad=True)
        group = getattr(ns.optim, name)([w], lr=0.1).param_groups[0]
        return {
            k: group[k]
            for k in (
                "lr",
                "weight_decay",
                *(("betas", "eps", "capturable") if "Adam" in name else ("momentum", "dampening", "nesterov")),
            )
        }

    assert defaults(OURS) == defaults(TORCH)


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_state_dict_layout_and_resume_match_pytorch(name):
    """The saved state has PyTorch's keys, and a run resumed from it continues as PyTorch's."""
    options = {"lr": 0.05, "momentum": 0.9} if name == "SGD" else {"lr": 0.01}
    layouts = []
    for ns in (TORCH, OURS):
        _, optimizer = trajectory(ns, name, options, steps=2)
        state = optimizer.state_dict()
        layouts.append(
            (sorted(state), sorted(state["state"]), sorted(state["state"][0]), sorted(state["param_groups"][0]))
        )
    assert layouts[1][:3] == layouts[0][:3]
    assert set(layouts[1][3]) <= set(layouts[0][3])


def test_param_groups_with_their_own_learning_rates_match_pytorch():
    def run(ns):
        rng = np.random.default_rng(0)
        a = ns.torch.tensor(rng.standard_normal(3), requires_grad=True)
        b = ns.torch.tensor(rng.standard_normal(3), requires_grad=True)
        optimizer = ns.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.5)
        for _ in range(3):
            optimizer.zero_grad()
            ((a * b).sum() + (a**2).sum()).backward()
            optimizer.step()
        return a.detach().numpy(), b.detach().numpy(), [g["lr"] for g in optimizer.param_groups]

    (ta, tb, tlr), (oa, ob, olr) = run(TORCH), run(OURS)
    np.testing.assert_allclose(oa, ta, rtol=1e-12)
    np.testing.assert_allclose(ob, tb, rtol=1e-12)
    assert olr == tlr


# ----- options: implemented as PyTorch's, or refused; never accepted and ignored ------------------------------

INVALID = [
    ("SGD", dict(lr=-0.1)),
    ("SGD", dict(lr=0.1, momentum=-0.5)),
    ("SGD", dict(lr=0.1, weight_decay=-1.0)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),  # Nesterov needs zero dampening
    ("SGD", dict(lr=0.1, nesterov=True)),  # ... and a momentum
    ("Adam", dict(lr=-1.0)),
    ("Adam", dict(eps=-1e-8)),
    ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, -0.1))),
    ("AdamW", dict(weight_decay=-0.1)),
]


@pytest.mark.parametrize("name, options", INVALID, ids=[f"{n}-{o}" for n, o in INVALID])
def test_invalid_options_raise_as_pytorch(name, options):
    messages = []
    for ns in (TORCH, OURS):
        with pytest.raises(ValueError) as raised:
            getattr(ns.optim, name)([ns.torch.zeros(2, requires_grad=True)], **options)
        messages.append(str(raised.value))
    assert messages[1] == messages[0]


@pytest.mark.parametrize(
    "name, option", [("SGD", "momentun"), ("Adam", "amsgrade"), ("AdamW", "decoupled_weight_decay")]
)
def test_an_option_pytorch_does_not_take_is_a_type_error_as_in_pytorch(name, option):
    for ns in (TORCH, OURS):
        with pytest.raises(TypeError):
            getattr(ns.optim, name)([ns.torch.zeros(2, requires_grad=True)], **{option: True})


@pytest.mark.parametrize("name", sorted(OPTIONS))
@pytest.mark.parametrize("option", ["fused", "differentiable"])
def test_options_not_implemented_here_are_refused(name, option):
    """PyTorch takes them; here they are a clear error (a gap), not a silent difference."""
    with pytest.raises(NotImplementedError, match=option):
        getattr(OURS.optim, name)([OURS.torch.zeros(2, requires_grad=True)], lr=0.1, **{option: True})


@pytest.mark.parametrize(
    "name, options",
    [("AdamW", {}), ("Adam", dict(amsgrad=True, maximize=True)), ("SGD", dict(lr=0.1, momentum=0.9))],
)
def test_a_zero_dimensional_parameter_steps_as_in_pytorch(name, options):
    def run(ns):
        p = ns.torch.tensor(1.5, dtype=ns.torch.float64, requires_grad=True)
        optimizer = getattr(ns.optim, name)([p], **options)
        for _ in range(3):
            optimizer.zero_grad()
            (p * p * p).backward()
            optimizer.step()
        return p.detach().numpy()

    expected, actual = run(TORCH), run(OURS)
    assert actual.shape == expected.shape == ()
    np.testing.assert_allclose(actual, expected, rtol=1e-12)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_the_state_dict_of_amsgrad_has_pytorchs_keys(name):
    keys = []
    for ns in (TORCH, OURS):
        _, optimizer = trajectory(ns, name, dict(amsgrad=True), steps=1)
        keys.append(sorted(optimizer.state_dict()["state"][0]))
    assert keys[1] == keys[0]
