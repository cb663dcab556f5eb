"""Recording a call for tensor.compile: what array work it does, in order, and on which buffers.

While a `Recording` is active the call runs eagerly, exactly as without it, and a few places of the
library are wrapped (on their classes or modules, put back when the recording ends) to write a *tape*:

    ("op", i)       Function.apply at the top level: the op's class (its stand-in in fast mode), the slots
                    of its inputs, its keyword parameters, the slot of its output, whether it needs a gradient
    ("call", ...)   a function of tensors that makes no graph and that a replay must run again: comparisons
                    (x == 0), argmax, the random functions (randn, multinomial, ...), the index checks of
                    embedding and cross_entropy: the function, its arguments with tensors and arrays as
                    slots, the slot of the result (None for a check)
    ("host", ...)   an optimizer's step and zero_grad, a scheduler's step, gradient clipping: called again
                    as they are at every replay, so they read the learning rate, step counts and gradients then
    ("backward",..) loss.backward(): the slot of the root, of the gradient given (or None), retain_graph

A *slot* names a buffer: an argument of the call, an op's output, or an *external* tensor (a parameter, a
buffer, any tensor made before the call or as a constant in it), which a replay reads through the tensor
(`tensor._array`), so in-place updates (the optimizer's) and a reassigned `.data` are followed.

What a replay could not repeat is noted as `unreplayable` (the first cause, with the file and line of the
user's code): a host read (.item(), bool(), .tolist(), .numpy(), float()), a random draw outside the
wrapped functions, an in-place write outside the optimizer, a tensor with a graph made before the call.
"""

import sys
import weakref

import numpy as np

from .. import autograd, creation, kernels
from ..optim import lr_scheduler
from ..optim.optimizer import Optimizer
from ..random import Generator
from ..tensor import Tensor

_active = None  # the Recording now running, if any


def active():
    return _active


def _subclasses(cls):
    found, stack = [], [cls]
    while stack:
        c = stack.pop()
        found.append(c)
        stack.extend(c.__subclasses__())
    return found


def _user_frame():
    """'file:line' of the innermost frame outside this library's tensor/ and nn/ packages (the user's code)."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename.replace("\\", "/")
        if "/tensor/" not in name and "/nn/" not in name:
            return f"{name}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


class Recording:
    """`with Recording(args) as r:` records the tape of the work run inside (see the module docstring)."""

    def __init__(self, argument_tensors):
        self.tape = []
        self.slot_of_array = {}  # id(array) -> (slot, a weak reference to the array)
        self.slot_count = 0
        self.externals = []  # (slot, tensor) read through the tensor at replay
        self.record_of_function = {}  # id(Function instance) -> index of its "op" entry in the tape
        self.functions = []  # the instances, kept alive while recording (their ids are keys above)
        self.argument_slots = [self._new_slot(t._array) for t in argument_tensors]
        self.unreplayable = None  # the first reason a replay could not repeat this call
        self.depth = 0  # > 0 inside an op, a recorded call or a host call: work there is theirs
        self._patches = []

    # ----- slots ---------------------------------------------------------------------------------------

    def _new_slot(self, array):
        slot = self.slot_count
        self.slot_count += 1
        try:
            held = weakref.ref(array)  # not the array: the recorded call frees its temporaries as eagerly
        except TypeError:
            held = (lambda a: lambda: a)(array)
        self.slot_of_array[id(array)] = slot, held
        return slot

    def _slot_of_array(self, array):
        found = self.slot_of_array.get(id(array))
        return found[0] if found is not None and found[1]() is array else None

    def slot_of(self, t):
        """The slot of a tensor's buffer: an argument's, an op's output, or a new external one."""
        slot = self._slot_of_array(t._array)
        if slot is None:
            if t._ctx is not None and id(t._ctx) not in self.record_of_function:
                self.refuse(f"a tensor of shape {tuple(t.shape)} with a graph made before the call is used in it")
            slot = self._new_slot(t._array)
            self.externals.append((slot, t))
        return slot

    def idle(self):
        """True where a wrapper only passes the call on: inside an op or a recorded call (the work is
        theirs), or after the recording ended (a replay calling a function the recording wrapped)."""
        return self.depth > 0 or _active is not self

    def refuse(self, reason):
        if self.unreplayable is None:
            self.unreplayable = f"{reason} (at {_user_frame()})"

    # ----- the wrappers ------------------------------------------------------------------------------

    def _apply(self, original):
        recording = self

        def apply(cls, *inputs, **params):
            if recording.idle():
                return original.__func__(cls, *inputs, **params)
            used = kernels.active.get(cls, cls)
            first = inputs[0]._array
            xp = np if type(first) is np.ndarray else inputs[0]._xp
            in_slots = tuple(recording.slot_of(t) for t in inputs)
            parents = tuple(recording._parent(t, slot) for t, slot in zip(inputs, in_slots))
            recording.depth += 1
            try:
                out = original.__func__(cls, *inputs, **params)
            finally:
                recording.depth -= 1
            entry = len(recording.tape)
            made_scalar = out._array.ndim == 0  # NumPy's full reductions give scalars, which _wrap makes arrays
            recording.tape.append(
                (
                    "op",
                    used,
                    in_slots,
                    params,
                    recording._new_slot(out._array),
                    out._ctx is not None,
                    parents,
                    made_scalar,
                    xp,
                )
            )
            if out._ctx is not None:
                recording.record_of_function[id(out._ctx)] = entry
                recording.functions.append(out._ctx)
            return out

        return classmethod(apply)

    def _call(self, original):
        """Wrap a tensor function that makes no graph: recorded as one "call", run again at each replay."""
        recording = self

        def call(*args, **kwargs):
            if recording.idle():
                return original(*args, **kwargs)
            template = ([recording._template(a) for a in args], {k: recording._template(v) for k, v in kwargs.items()})
            recording.depth += 1
            try:
                out = original(*args, **kwargs)
            finally:
                recording.depth -= 1
            if not isinstance(out, Tensor) or out.requires_grad:
                recording.refuse(f"{getattr(original, '__name__', original)} gave a result a replay cannot follow")
                return out
            recording.tape.append(("call", original, template, recording._new_slot(out._array)))
            return out

        return call

    def _parent(self, t, slot):
        """How the engine's graph names input t: ("made", the op entry that made it, requires_grad, shape,
        dtype), ("leaf", the tensor) for a leaf that requires grad, ("none",) for an input without a gradient."""
        if t._ctx is not None:
            return ("made", self.record_of_function.get(id(t._ctx)), t.requires_grad, t._array.shape, t._array.dtype)
        if t.requires_grad:
            if slot in self.argument_slots:
                self.refuse(f"an argument of shape {tuple(t.shape)} that requires grad (pass it detached)")
            return ("leaf", t)
        return ("none",)

    def _template(self, value):
        if isinstance(value, Tensor):
            return ("slot", self.slot_of(value))
        slot = self._slot_of_array(value) if hasattr(value, "shape") and hasattr(value, "dtype") else None
        return ("value", value) if slot is None else ("array", slot)  # an argument's or an op's array

    def _check(self, original):
        """Wrap a check of arrays (nn.functional._check_indices): run again on the replay's arrays."""
        recording = self

        def check(*args, **kwargs):
            if not recording.idle():
                template = (
                    [recording._template(a) for a in args],
                    {k: recording._template(v) for k, v in kwargs.items()},
                )
                recording.tape.append(("call", original, template, None))
            return original(*args, **kwargs)

        return check

    def _host(self, original):
        """Wrap an optimizer's or scheduler's method, or clipping: called again as it is at each replay."""
        recording = self

        def host(*args, **kwargs):
            if recording.idle():
                return original(*args, **kwargs)
            args = tuple(list(a) if _is_iterator(a) else a for a in args)  # model.parameters() is used up once
            recording.depth += 1
            try:
                out = original(*args, **kwargs)
            finally:
                recording.depth -= 1
            slot = recording._new_slot(out._array) if isinstance(out, Tensor) else None
            recording.tape.append(("host", original, args, kwargs, slot))
            return out

        return host

    def _backward(self, original):
        recording = self

        def backward(t, gradient=None, retain_graph=False):
            if recording.idle():
                return original(t, gradient, retain_graph)
            root = recording.slot_of(t)
            grad = recording.slot_of(gradient) if isinstance(gradient, Tensor) else None
            if gradient is not None and grad is None:
                recording.refuse("backward(gradient=...) with a gradient that is not a tensor")
            recording.depth += 1
            try:
                original(t, gradient, retain_graph)
            finally:
                recording.depth -= 1
            recording.tape.append(("backward", root, grad, retain_graph))

        return backward

    def _refusing(self, original, reason):
        recording = self

        def refusing(*args, **kwargs):
            if not recording.idle():
                recording.refuse(reason)
            return original(*args, **kwargs)

        return refusing

    def _patch(self, owner, name, make):
        if name not in vars(owner):  # a name another version of the library does not have: nothing to wrap
            return
        if any(o is owner and n == name for o, n, _ in self._patches):  # one module reached by two names
            return
        original = vars(owner)[name]
        self._patches.append((owner, name, original))
        setattr(owner, name, make(original))

    def __enter__(self):
        global _active
        if _active is not None:
            raise RuntimeError("tensor.compile: a recording is running already (recordings do not nest)")
        patch = self._patch
        patch(autograd.Function, "apply", self._apply)
        patch(Tensor, "backward", self._backward)
        for name in ("_outside_graph", "__invert__", "argmax", "argmin", "all", "any"):
            patch(Tensor, name, self._call)
        import tensor as package

        for name in ("rand", "randn", "randint", "randperm", "multinomial", "rand_like", "randn_like", "randint_like"):
            for module in (creation, package):
                if name in getattr(module, "__dict__", {}):
                    patch(module, name, self._call)
        for name in ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__", "__format__"):
            patch(Tensor, name, lambda f, n=name: self._refusing(f, f"a host read (tensor.{n}) inside the call"))
        patch(Tensor, "_write_in_place", lambda f: self._refusing(f, "an in-place write to a tensor inside the call"))
        for draw in ("random", "standard_normal", "integers"):
            patch(Generator, draw, lambda f: self._refusing(f, "a random draw outside the recorded ops"))
        for cls in _subclasses(Optimizer):
            for name in ("step", "zero_grad"):
                if name in cls.__dict__:
                    patch(cls, name, self._host)
        for cls in _subclasses(lr_scheduler.LRScheduler):
            if "step" in cls.__dict__:
                patch(cls, "step", self._host)
        nn = sys.modules.get("nn")  # the layer above: wrapped when it is loaded, never imported from here
        if nn is not None:
            patch(nn.Module, "zero_grad", self._host)
            functional = sys.modules.get("nn.functional")
            if functional is not None and "_check_indices" in functional.__dict__:  # Embedding's index check
                patch(functional, "_check_indices", self._check)
            for name in ("clip_grad_norm_", "clip_grad_value_"):
                for module in (nn.utils, sys.modules.get("nn.utils")):
                    if module is not None and name in module.__dict__:
                        patch(module, name, self._host)
        _active = self
        return self

    def __exit__(self, *exc_info):
        global _active
        _active = None
        for owner, name, original in reversed(self._patches):
            setattr(owner, name, original)
        self._patches = []
        self.functions = []  # the graph's Functions: freed with the eager call's tensors
        return False


def _is_iterator(value):
    return hasattr(value, "__next__") and not isinstance(value, (Tensor, np.ndarray, str, bytes))
