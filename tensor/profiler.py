"""tensor.profile: time every Function's forward and backward, by op name, from outside the engine.

Entering the first profile wraps the `forward` and `backward` of every Function class in a
timer; leaving the last one puts the originals back, so the engine's main path
(`Function.apply`, `backward`) carries no profiling code. Profiles nest: while an inner one
is open, each op's time goes to every open profile, and the outer one goes on recording
after the inner one closes.

On "cuda" kernels run asynchronously, so the timer waits for the GPU (backend.synchronize)
before reading the clock on both sides of each op: the figures are the kernels' own time.
"""

import functools
import time
from collections import defaultdict

from .autograd import Function, PendingGradient
from .backend import synchronize

_open_profiles = []
_original_methods = []  # (class, method name, the method as the class defined it)
_timing = []  # non-empty while a timed method runs: a form that calls another op's method counts once


def _classes_from(base):
    """base and every subclass of it, however deep."""
    classes, stack = [], [base]
    while stack:
        cls = stack.pop()
        classes.append(cls)
        stack.extend(cls.__subclasses__())
    return classes


def _timed(method, column):
    """method, adding its time to column 1 (forward) or 2 (backward) of every open profile."""

    @functools.wraps(method)
    def timed(fn, *args, **kwargs):
        if _timing:  # inside another op's timed call (a fused form calling an op's own method): its time
            return method(fn, *args, **kwargs)
        synchronize(fn.xp)
        started = time.perf_counter()
        _timing.append(fn)
        try:
            result = method(fn, *args, **kwargs)
        finally:
            _timing.pop()
        synchronize(fn.xp)
        seconds = time.perf_counter() - started
        for profile_ in _open_profiles:
            record = profile_.records[type(fn).__name__]
            record[0] += column == 1  # calls are counted once, at forward
            record[column] += seconds
        return result

    return timed


def _install_timers():
    # A PendingGradient's compute() is backward work that an op handed on (the engine room's
    # LinearGradients, nn/fast/linear.py: the products of the Linears that read one input); its time goes
    # to the backward column of its own row.
    methods = [(cls, ("forward", 1), ("backward", 2)) for cls in _classes_from(Function)]
    methods += [(cls, ("compute", 2)) for cls in _classes_from(PendingGradient)]
    for cls, *names in methods:
        for name, column in names:
            if name in vars(cls):  # a method the class defines itself (inherited ones are wrapped where defined)
                _original_methods.append((cls, name, vars(cls)[name]))
                setattr(cls, name, _timed(vars(cls)[name], column))


def _remove_timers():
    while _original_methods:
        cls, name, method = _original_methods.pop()
        setattr(cls, name, method)


class profile:
    """Context manager: time every Function's forward and backward, by op name.

    The time inside forward/backward is array work (NumPy or CuPy kernels); whatever
    else a step takes is Python: building tensors, the graph walk, the optimizer loop.
    `summary(total_seconds)` prints the split.
    """

    def __enter__(self):
        self.records = defaultdict(lambda: [0, 0.0, 0.0])  # op name -> [calls, forward s, backward s]
        if not _open_profiles:
            _install_timers()
        _open_profiles.append(self)
        return self

    def __exit__(self, *exc_info):
        _open_profiles.remove(self)
        if not _open_profiles:
            _remove_timers()

    def kernel_seconds(self):
        return sum(forward + backward for _, forward, backward in self.records.values())

    def summary(self, total_seconds=None):
        rows = sorted(self.records.items(), key=lambda item: -(item[1][1] + item[1][2]))
        lines = [f"{'op':<28}{'calls':>8}{'forward ms':>12}{'backward ms':>13}"]
        lines += [
            f"{name:<28}{calls:>8}{forward * 1e3:>12.2f}{backward * 1e3:>13.2f}"
            for name, (calls, forward, backward) in rows
        ]
        if total_seconds:
            kernels = self.kernel_seconds()
            lines.append(
                f"inside ops {kernels * 1e3:.1f} ms of {total_seconds * 1e3:.1f} ms ({kernels / total_seconds:.0%}); the rest is Python"
            )
        return "\n".join(lines)
