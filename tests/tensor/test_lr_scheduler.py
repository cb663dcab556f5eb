"""Learning-rate schedules give PyTorch's values, computed here by hand from its formulas."""

import math

import pytest

import nn
import tensor
from tensor import optim
from tensor.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, LinearLR, SequentialLR, StepLR


def make_optimizer(lr=1.0, groups=1):
    return optim.SGD([{"params": [tensor.zeros(1, requires_grad=True)], "lr": lr * (i + 1)} for i in range(groups)])


def schedule(scheduler, steps):
    """The lr of each of `steps` optimizer steps (the scheduler already set step 0's), read from the optimizer."""
    lrs = []
    for _ in range(steps):
        lrs.append(scheduler.optimizer.param_groups[0]["lr"])
        assert scheduler.get_last_lr()[0] == lrs[-1]
        scheduler.optimizer.step()
        scheduler.step()
    return lrs


def test_the_module_is_reachable_as_in_pytorch():
    assert optim.lr_scheduler.StepLR is StepLR


def test_step_lr_multiplies_by_gamma_every_step_size_steps():
    scheduler = StepLR(make_optimizer(), step_size=2, gamma=0.5)
    assert schedule(scheduler, 6) == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_linear_lr_warms_up_from_start_factor_to_end_factor_then_stays():
    scheduler = LinearLR(make_optimizer(), start_factor=0.25, end_factor=1.0, total_iters=3)
    assert schedule(scheduler, 6) == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0], rel=1e-15)


def test_linear_lr_defaults_are_pytorchs():
    scheduler = LinearLR(make_optimizer(0.3))
    expected = [0.3 * (1 / 3 + (2 / 3) * min(t, 5) / 5) for t in range(7)]
    assert schedule(scheduler, 7) == pytest.approx(expected, rel=1e-15)


def test_cosine_annealing_follows_half_a_cosine_from_base_lr_to_eta_min():
    scheduler = CosineAnnealingLR(make_optimizer(), T_max=4, eta_min=0.1)

    def cosine(t):
        return 0.1 + 0.9 * (1 + math.cos(math.pi * t / 4)) / 2

    expected = [1.0, cosine(1), 0.55, cosine(3), 0.1, cosine(5)]  # past T_max the wave rises again
    assert cosine(5) == pytest.approx(cosine(3))
    assert schedule(scheduler, 6) == pytest.approx(expected, rel=1e-14)


def test_lambda_lr_scales_each_group_by_its_own_function():
    opt = make_optimizer(lr=1.0, groups=2)
    scheduler = LambdaLR(opt, [lambda t: 1 / (t + 1), lambda t: 0.5**t])
    for _ in range(3):
        opt.step()
        scheduler.step()
    assert scheduler.get_last_lr() == pytest.approx([1.0 / 4, 2.0 * 0.125])
    assert [group["lr"] for group in opt.param_groups] == scheduler.get_last_lr()


def test_sequential_lr_warms_up_then_hands_over_to_cosine_from_its_step_zero():
    opt = make_optimizer()
    warmup = LinearLR(opt, start_factor=0.5, total_iters=2)
    cosine = CosineAnnealingLR(opt, T_max=2, eta_min=0.0)
    scheduler = SequentialLR(opt, [warmup, cosine], milestones=[2])
    assert schedule(scheduler, 5) == pytest.approx([0.5, 0.75, 1.0, 0.5, 0.0], abs=1e-15)


def test_building_a_scheduler_with_last_epoch_needs_the_optimizers_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        StepLR(make_optimizer(), step_size=2, last_epoch=3)


def test_sequential_lr_refuses_a_wrong_number_of_milestones():
    opt = make_optimizer()
    with pytest.raises(ValueError, match="2 schedulers need 1 milestones, got 2"):
        SequentialLR(opt, [StepLR(opt, 2), StepLR(opt, 3)], milestones=[2, 4])


def build_warmup_cosine(opt):
    warmup = LinearLR(opt, start_factor=0.1, total_iters=3)
    return SequentialLR(opt, [warmup, CosineAnnealingLR(opt, T_max=6, eta_min=0.01)], milestones=[3])


@pytest.mark.parametrize(
    "build",
    [
        lambda opt: StepLR(opt, step_size=2, gamma=0.3),
        lambda opt: CosineAnnealingLR(opt, T_max=5),
        build_warmup_cosine,
    ],
    ids=["StepLR", "CosineAnnealingLR", "SequentialLR"],
)
def test_resuming_from_a_saved_state_continues_the_same_schedule(tmp_path, build):
    opt = make_optimizer(lr=0.5, groups=2)
    scheduler = build(opt)
    uninterrupted = schedule(scheduler, 4)
    nn.save({"optimizer": opt.state_dict(), "scheduler": scheduler.state_dict()}, tmp_path / "c.npz")
    uninterrupted += schedule(scheduler, 5)

    checkpoint = nn.load(tmp_path / "c.npz")
    resumed_opt = make_optimizer(lr=0.5, groups=2)
    resumed = build(resumed_opt)  # built first, then loaded, as PyTorch's docs say
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    resumed.load_state_dict(checkpoint["scheduler"])
    assert uninterrupted[:4] + schedule(resumed, 5) == uninterrupted
    assert resumed_opt.param_groups[1]["lr"] == opt.param_groups[1]["lr"]
