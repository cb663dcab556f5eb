"""tensor.profile over a replay: the forms a replay runs in an op's place are timed as the op's own.

tensor.profile times each op through the forward and backward that its class defines (tensor/profiler.py).
A replay often runs other forms in their place: an op's into form (into_forms.INTO, BACKWARD_INTO), a form
that keeps its temporaries, set on the op's instance (FORWARD_KEEPING, BACKWARD_KEEPING), and a pending
gradient's compute into kept arrays (PENDING_INTO). Without timers on them, a profiled replay counted most
of its array work as Python. While a profile is open, `profiled_forms` puts the same timer on each for one
replay (or one backward), and takes it off after: nothing of this runs when no profile is open.
"""

import contextlib
import types

from .. import profiler
from .into_forms import PENDING_INTO
from .steps import OP


@contextlib.contextmanager
def profiled_forms(plan, functions):
    """Within: the plan's into forms, the instances' own forms and the pending gradients' compute-into
    forms time themselves into the open profiles, as the ops they stand for (forward 1, backward 2)."""
    steps, backward_into, pending = plan.steps, plan.backward_into, dict(PENDING_INTO)
    own_forms = [
        (fn, name, column, vars(fn)[name])
        for fn in functions.functions
        if fn is not None
        for name, column in (("forward", 1), ("backward", 2))
        if name in vars(fn)
    ]
    try:
        plan.steps = [(*s[:-1], profiler._timed(s[-1], 1)) if s[0] == OP and s[-1] else s for s in steps]
        plan.backward_into = [into and profiler._timed(into, 2) for into in backward_into]
        PENDING_INTO.update({cls: profiler._timed(compute_into, 2) for cls, compute_into in pending.items()})
        for fn, name, column, method in own_forms:
            setattr(fn, name, types.MethodType(profiler._timed(method.__func__, column), fn))
        yield
    finally:
        plan.steps, plan.backward_into = steps, backward_into
        PENDING_INTO.update(pending)
        for fn, name, _, method in own_forms:
            setattr(fn, name, method)


def profiling():
    """Whether a tensor.profile is open (then a replay times the forms above)."""
    return bool(profiler._open_profiles)
