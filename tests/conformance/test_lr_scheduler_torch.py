"""optim.lr_scheduler gives the learning rates torch.optim.lr_scheduler gives, step by step."""

import pytest

import tensor
from tensor import optim

torch = pytest.importorskip("torch")

SCHEDULES = {
    "LambdaLR": lambda opt, L: L.LambdaLR(opt, lambda t: 0.95**t),
    "StepLR": lambda opt, L: L.StepLR(opt, step_size=3, gamma=0.5),
    "LinearLR": lambda opt, L: L.LinearLR(opt, start_factor=0.1, end_factor=0.8, total_iters=7),
    "LinearLR-defaults": lambda opt, L: L.LinearLR(opt),
    "CosineAnnealingLR": lambda opt, L: L.CosineAnnealingLR(opt, T_max=9, eta_min=1e-3),
    "MultiStepLR": lambda opt, L: L.MultiStepLR(opt, milestones=[12, 4, 20, 20], gamma=0.3),
    "ExponentialLR": lambda opt, L: L.ExponentialLR(opt, gamma=0.9),
    "SequentialLR-exponential-multistep": lambda opt, L: L.SequentialLR(
        opt, [L.ExponentialLR(opt, gamma=0.8), L.MultiStepLR(opt, milestones=[3, 6])], milestones=[7]
    ),
    "SequentialLR-warmup-cosine": lambda opt, L: L.SequentialLR(
        opt,
        [L.LinearLR(opt, start_factor=0.01, total_iters=5), L.CosineAnnealingLR(opt, T_max=15, eta_min=1e-4)],
        milestones=[5],
    ),
    "SequentialLR-three": lambda opt, L: L.SequentialLR(
        opt,
        [L.StepLR(opt, 2), L.LinearLR(opt, start_factor=0.5, total_iters=3), L.CosineAnnealingLR(opt, T_max=6)],
        milestones=[4, 9],
    ),
}


def learning_rates(optimizer, scheduler, steps):
    rates = []
    for _ in range(steps):
        now = [group["lr"] for group in optimizer.param_groups]
        assert scheduler.get_last_lr() == now
        rates += now
        optimizer.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize("name", SCHEDULES)
def test_learning_rates_match_pytorch_over_thirty_steps_with_two_param_groups(name):
    ours = optim.AdamW(
        [
            {"params": [tensor.zeros(1, requires_grad=True)]},
            {"params": [tensor.zeros(1, requires_grad=True)], "lr": 3e-3},
        ],
        lr=1e-3,
    )
    theirs = torch.optim.AdamW(
        [
            {"params": [torch.zeros(1, requires_grad=True)]},
            {"params": [torch.zeros(1, requires_grad=True)], "lr": 3e-3},
        ],
        lr=1e-3,
    )
    our_rates = learning_rates(ours, SCHEDULES[name](ours, optim.lr_scheduler), 30)
    their_rates = learning_rates(theirs, SCHEDULES[name](theirs, torch.optim.lr_scheduler), 30)
    assert our_rates == pytest.approx(their_rates, rel=1e-12, abs=1e-18)


def counters(state):
    """The last learning rates and the step counters of a scheduler's state, its children's included."""
    found = {"_last_lr": state["_last_lr"], "last_epoch": state["last_epoch"]}
    for index, child in enumerate(state.get("_schedulers", [])):
        found[f"{index}.last_epoch"] = child["last_epoch"]
    return found


@pytest.mark.parametrize("name", ["StepLR", "SequentialLR-warmup-cosine", "SequentialLR-three"])
def test_state_dict_holds_pytorchs_step_counters_and_last_learning_rate(name):
    ours = optim.SGD([tensor.zeros(1, requires_grad=True)], lr=0.1)
    theirs = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    our_scheduler = SCHEDULES[name](ours, optim.lr_scheduler)
    their_scheduler = SCHEDULES[name](theirs, torch.optim.lr_scheduler)
    learning_rates(ours, our_scheduler, 7)
    learning_rates(theirs, their_scheduler, 7)
    our_counters, their_counters = counters(our_scheduler.state_dict()), counters(their_scheduler.state_dict())
    assert our_counters.keys() == their_counters.keys()
    for key in our_counters:
        assert our_counters[key] == pytest.approx(their_counters[key], rel=1e-12), key
