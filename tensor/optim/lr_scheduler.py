"""Learning-rate schedules with PyTorch's names, arguments and formulas (torch.optim.lr_scheduler).

A scheduler owns a step counter `last_epoch` and sets each param group's "lr" from it:

    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for step in range(steps):
        loss.backward(); optimizer.step(); optimizer.zero_grad()
        scheduler.step()                 # after optimizer.step(), as in PyTorch

Creating a scheduler already applies step 0 (the lr of the first optimizer step), as PyTorch does.
Each class writes its learning rate at step t as a closed form of the group's initial lr (`base_lrs`).
PyTorch computes the same numbers recursively from the previous lr (its "chainable" form);
the two agree (to rounding) unless a program edits group["lr"] by hand between steps.
"""

import math
from bisect import bisect_right
from types import FunctionType

from .optimizer import Optimizer


class LRScheduler:
    """The base class: base_lrs, last_epoch, step(), get_last_lr(), state_dict()/load_state_dict()."""

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for index, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(
                    f"param_groups[{index}] has no 'initial_lr': resuming a scheduler with last_epoch={last_epoch} "
                    "needs the optimizer's state_dict (which holds it) loaded first"
                )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()  # step 0: the learning rate of the first optimizer step

    def get_lr(self):
        """The learning rate of every param group at step `last_epoch`."""
        raise NotImplementedError

    def step(self):
        """Advance one step and set every param group's lr."""
        self.last_epoch += 1
        self._apply(self.get_lr())

    def _apply(self, lrs):
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        """The learning rates the last step() set, one per param group."""
        return list(self._last_lr)

    def state_dict(self):
        """Every attribute but the optimizer: plain numbers and lists, so nn.save can store it."""
        return {key: value for key, value in vars(self).items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        vars(self).update(state_dict)


class LambdaLR(LRScheduler):
    """lr(t) = base_lr * lr_lambda(t); one function for all groups or a list with one per group."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        groups = len(optimizer.param_groups)
        lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * groups
        if len(lambdas) != groups:
            raise ValueError(f"LambdaLR: expected {groups} lr_lambdas (one per param group), got {len(lambdas)}")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * fn(self.last_epoch) for base_lr, fn in zip(self.base_lrs, self.lr_lambdas)]

    def state_dict(self):
        """As PyTorch: a plain function cannot be saved (None); a callable object saves its attributes."""
        state = {key: value for key, value in vars(self).items() if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, FunctionType) else dict(vars(fn)) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        saved_lambdas = state_dict.pop("lr_lambdas")
        vars(self).update(state_dict)
        for fn, saved in zip(self.lr_lambdas, saved_lambdas):
            if saved is not None:
                vars(fn).update(saved)


class StepLR(LRScheduler):
    """lr(t) = base_lr * gamma ** (t // step_size): divide by 1/gamma every step_size steps."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be at least 1, got {step_size}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr(t) = base_lr * gamma ** (how many milestones are <= t): divide by 1/gamma at each milestone
    (a milestone listed twice divides twice, as in PyTorch)."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones, self.gamma = sorted(int(m) for m in milestones), gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        passed = bisect_right(self.milestones, self.last_epoch)
        return [base_lr * self.gamma**passed for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr(t) = base_lr * gamma ** t: multiply by gamma every step."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """lr(t) = base_lr * (start_factor + (end_factor - start_factor) * min(t, total_iters) / total_iters).

    A linear warm-up from start_factor * base_lr to end_factor * base_lr over total_iters steps, then constant.
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor}")
        if total_iters < 1:
            raise ValueError(f"LinearLR: total_iters must be at least 1, got {total_iters}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        progress = min(self.last_epoch, self.total_iters) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base_lr * factor for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr(t) = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2.

    Half a cosine wave from base_lr down to eta_min over T_max steps (past T_max it rises again, as in PyTorch).
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be at least 1, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2  # 1 at t = 0, 0 at t = T_max
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run schedulers one after another: schedulers[i] takes over at step milestones[i - 1], from its own step 0.

    Warm-up then cosine decay (nanoGPT's schedule):
        SequentialLR(opt, [LinearLR(opt, start_factor=0.01, total_iters=w),
                           CosineAnnealingLR(opt, T_max=steps - w, eta_min=min_lr)], milestones=[w])
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        if not schedulers:
            raise ValueError("SequentialLR needs at least one scheduler")
        for index, scheduler in enumerate(schedulers):
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: schedulers[{index}] belongs to a different optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: {len(schedulers)} schedulers need {len(schedulers) - 1} milestones, got {len(milestones)}"
            )
        self.optimizer = optimizer
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        # Building each scheduler applied its own step 0; undo those (each waits at step -1 until
        # its milestone) and start again from the first one.
        for scheduler in self._schedulers:
            scheduler.last_epoch -= 1
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first.step()
        self._last_lr = first.get_last_lr()

    def step(self):
        self.last_epoch += 1
        scheduler = self._schedulers[bisect_right(self._milestones, self.last_epoch)]
        scheduler.step()  # at its milestone a scheduler leaves step -1 for its step 0
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self):
        state = {key: value for key, value in vars(self).items() if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        saved_schedulers = state_dict.pop("_schedulers")
        vars(self).update(state_dict)
        for scheduler, saved in zip(self._schedulers, saved_schedulers):
            scheduler.load_state_dict(saved)
