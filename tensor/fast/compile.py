"""tensor.compile: record a call once, replay its array work after, as torch.compile is called.

    step = tensor.compile(train_step)     # train_step(x, y): forward, backward, clip, optimizer.step()
    model = tensor.compile(model)         # nanoGPT's way: the module's forward is compiled

How: the first two calls with a given *signature* run eagerly while a recording (tensor/fast/recorder.py)
writes down the array work they do: every op's forward (its Function class, input and output buffers,
parameters), the backward, the optimizer's step and zero_grad, a scheduler's step, gradient clipping.
When the two recordings agree, later calls with that signature replay it (tensor/fast/replay.py): each
op's forward and backward run on raw arrays, without Tensor objects, graph building, the topological
sort or the model's Python; the optimizer, scheduler and clipping are called as they are, so they read
the learning rate, Adam's step count and the gradients' norm at the replay. Dropout and the random
functions draw at the replay, from the same generator in the same order: the random stream advances as
the eager call's does. A replay runs the eager call's array calls in the same order, so its values are
the eager call's bit for bit.

The signature: each tensor argument's shape, dtype, device and requires_grad, the other arguments'
values, grad mode, the modules' train/eval mode and the kernels mode. Up to 8 signatures are kept per
compiled object (torch's recompile limit); calls with a further one run eagerly.

What a replay cannot follow runs eagerly instead, with a warning naming the cause and the line (an
error with fullgraph=True): a host read in the call (.item(), bool() of a tensor, so any Python branch
on data), a random draw outside the known functions, an in-place write outside the optimizer, a tensor
with a graph made before the call, an argument that requires grad, a mutable argument (dict, list), and
two recordings that differ (Python control flow that depends on a changing value). Only tensor work and
the calls above are replayed: other Python side effects of the function (a counter, a list append, a
dict the function fills) happen while recording only, and a tensor reached through an attribute or a
closure is the same tensor object at every replay (its `._array` is read afresh).

In reference mode (tensor.set_kernels("reference")) compile returns its argument unchanged: the
textbook stays eager. torch.compile's keyword arguments are accepted; only fullgraph and disable
change anything here (dynamic, backend, mode and options have no meaning for a replay of array calls).
"""

import functools
import types
import warnings
from collections import OrderedDict

import numpy as np

from .. import autograd, kernels
from ..tensor import Tensor
from . import recorder
from .replay import Plan, wrap_outputs

CACHE_SIZE = 8  # signatures per compiled object, as torch's recompile limit


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None, disable=False):  # noqa: A001
    """torch.compile's signature: a compiled function, or for a Module a wrapper module (see the module
    docstring). With no model, a decorator. In reference mode, or with disable=True, `model` itself."""
    if model is None:
        return functools.partial(
            compile, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode, options=options, disable=disable
        )
    if disable or kernels.get_kernels() == "reference":
        return model
    if _is_module(model):
        return _compiled_module(model, fullgraph)
    if not callable(model):
        raise TypeError(f"tensor.compile needs a function or a Module, got {type(model).__name__}")
    return CompiledFunction(model, fullgraph)


def _is_module(value):
    return not isinstance(value, type) and all(hasattr(value, n) for n in ("forward", "state_dict", "named_modules"))


class _Entry:
    """What compile knows of one signature: its recordings so far, its plan, or why it runs eagerly."""

    def __init__(self):
        self.tapes, self.plan, self.eager_because, self.structure = [], None, None, None


class CompiledFunction:
    """A function recorded on its first calls and replayed after (see the module docstring)."""

    def __init__(self, fn, fullgraph=False, modules=None):
        functools.update_wrapper(self, fn, updated=())
        self.fn, self.fullgraph = fn, fullgraph
        self._modules = modules  # the Modules whose train/eval mode is part of the signature
        self._entries = OrderedDict()
        self._warned = set()
        self.counts = {"recorded": 0, "replayed": 0, "eager": 0}  # calls of each kind, for tests and benchmarks

    def __call__(self, *args, **kwargs):
        if kernels.get_kernels() == "reference" or recorder.active() is not None:
            return self.fn(*args, **kwargs)  # the textbook, or inside another compiled call's recording
        leaves = []
        try:
            key = self._signature(args, kwargs, leaves)
        except _Unreplayable as reason:
            return self._eager(str(reason), args, kwargs)
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= CACHE_SIZE:
                return self._eager(
                    f"more than {CACHE_SIZE} signatures (shapes, dtypes, modes) were recorded", args, kwargs
                )
            entry = self._entries[key] = _Entry()
        tensors = [v for v in leaves if isinstance(v, Tensor)]
        if entry.plan is not None:
            self.counts["replayed"] += 1
            plan = entry.plan
            functions = plan.instance_set()
            slots = plan.run([t._array for t in tensors], functions)
            return _unflatten(entry.structure, iter(wrap_outputs(plan, functions, slots, tensors)))
        if entry.eager_because is not None:
            self.counts["eager"] += 1
            return self.fn(*args, **kwargs)
        self.counts["recorded"] += 1
        return self._record(entry, args, kwargs, tensors)

    def _record(self, entry, args, kwargs, tensors):
        with recorder.Recording(tensors) as recording:
            out = self.fn(*args, **kwargs)
            structure, values = _flatten(out)
            outputs = []
            for value in values:
                if not isinstance(value, Tensor):  # None, or a Python value no host read made (that is refused)
                    outputs.append((None, value))
                    continue
                root = None
                if value._ctx is not None and not value._ctx.freed:
                    root = recording.record_of_function.get(id(value._ctx))
                outputs.append((recording.slot_of(value), root))
        if recording.unreplayable is not None:
            entry.eager_because = recording.unreplayable
            self._warn(recording.unreplayable)
            return out
        entry.tapes.append((recording, outputs, structure))
        if len(entry.tapes) == 2:
            (first, first_outputs, _), (second, _, _) = entry.tapes
            difference = _difference(first, second, first_outputs, outputs)
            entry.tapes = []
            if difference is not None:
                entry.eager_because = f"two calls with one signature recorded different work: {difference}"
                self._warn(entry.eager_because)
            else:
                try:
                    entry.plan, entry.structure = Plan(second, outputs), structure
                except RuntimeError as error:  # e.g. a backward from a tensor no recorded op made
                    entry.eager_because = str(error)
                    self._warn(entry.eager_because)
        return out

    def __get__(self, instance, owner=None):
        """As a method (`@tensor.compile` on `def forward(self, x)`): bound to the instance, which is then
        an argument of the call (its identity, and for a Module its train/eval mode, in the signature)."""
        return self if instance is None else functools.partial(self, instance)

    def _eager(self, reason, args, kwargs):
        self._warn(reason)
        self.counts["eager"] += 1
        return self.fn(*args, **kwargs)

    def _warn(self, reason):
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        if self.fullgraph:
            raise RuntimeError(f"tensor.compile(fullgraph=True): {name} cannot be replayed: {reason}")
        if reason not in self._warned:
            self._warned.add(reason)
            warnings.warn(f"tensor.compile: {name} runs eagerly: {reason}", RuntimeWarning, stacklevel=3)

    def _signature(self, args, kwargs, leaves):
        structure, values = _flatten((args, tuple(kwargs.items())))
        leaves.extend(values)
        key = [structure, autograd.is_grad_enabled(), kernels.get_kernels(), tuple(kernels.active)]
        for v in values:
            if isinstance(v, Tensor):
                a = v._array
                key.append((type(a), a.shape, a.dtype, v.requires_grad))
            elif isinstance(v, (dict, list, set, bytearray)):
                raise _Unreplayable(f"a mutable argument ({type(v).__name__}) that the call may change")
            elif _is_module(v):
                key.append((id(v), v.training))
            else:
                try:
                    hash(v)
                except TypeError:
                    raise _Unreplayable(f"an argument of type {type(v).__name__} that cannot be compared") from None
                key.append(v)
        if self._modules is None:
            self._modules = _modules_seen_by(self.fn)
        key.extend(m.training for m in self._modules)
        return tuple(key)


class _Unreplayable(Exception):
    pass


def _compiled_module(module, fullgraph):
    """A module that shares `module`'s attributes (its __dict__: parameters, buffers, training flag) and
    class, so state_dict() keys, parameters() and every method are the original's; calling it runs the
    compiled forward. `_orig_mod` is the original, as torch's; it is no submodule, so no key has its prefix."""
    cls = type(module)
    compiled = CompiledFunction(module.__call__, fullgraph, modules=[module])
    wrapper_class = type(
        cls.__name__,
        (cls,),
        {
            "__call__": lambda self, *args, **kwargs: compiled(*args, **kwargs),
            "_orig_mod": module,
            "_compiled_call": staticmethod(compiled),  # the CompiledFunction itself, not bound
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
        },
    )
    wrapper = object.__new__(wrapper_class)
    object.__setattr__(wrapper, "__dict__", module.__dict__)  # one set of attributes for both
    return wrapper


def _modules_seen_by(fn):
    """The Modules a function reaches directly (its closure, the globals it names, a bound method's
    object): their train/eval mode is part of the signature."""
    candidates = []
    code = getattr(fn, "__code__", None)
    if isinstance(fn, types.MethodType):
        candidates.append(fn.__self__)
        code = fn.__func__.__code__
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            candidates.append(cell.cell_contents)
        except ValueError:  # an empty cell
            pass
    names = getattr(fn, "__globals__", {})
    candidates.extend(names[n] for n in (code.co_names if code else ()) if n in names)
    return [c for c in candidates if _is_module(c)]


def _flatten(value):
    """(structure, leaves): tuples, lists and dicts opened, everything else a leaf."""
    if isinstance(value, (tuple, list)) and not hasattr(value, "_fields"):
        parts = [_flatten(v) for v in value]
        return (type(value), tuple(s for s, _ in parts)), [leaf for _, leaves in parts for leaf in leaves]
    if isinstance(value, tuple):  # a named tuple
        parts = [_flatten(v) for v in value]
        return (type(value), tuple(s for s, _ in parts)), [leaf for _, leaves in parts for leaf in leaves]
    if isinstance(value, dict) and any(isinstance(v, Tensor) for v in value.values()):
        parts = [_flatten(v) for v in value.values()]
        return (dict, tuple(value), tuple(s for s, _ in parts)), [leaf for _, leaves in parts for leaf in leaves]
    return None, [value]


def _unflatten(structure, leaves):
    if structure is None:
        return next(leaves)
    if structure[0] is dict:
        _, keys, parts = structure
        return {k: _unflatten(s, leaves) for k, s in zip(keys, parts)}
    kind, parts = structure
    values = [_unflatten(s, leaves) for s in parts]
    return kind(*values) if hasattr(kind, "_fields") else kind(values)


# ----- comparing two recordings -----------------------------------------------------------------------------


def _difference(first, second, first_outputs, second_outputs):
    """None when two recordings did the same work on the same buffers, else what differs."""
    if len(first.tape) != len(second.tape):
        return f"{len(first.tape)} against {len(second.tape)} recorded steps"
    if len(first.externals) != len(second.externals) or any(
        slot_a != slot_b or not (a is b or _same(a._array, b._array))
        for (slot_a, a), (slot_b, b) in zip(first.externals, second.externals)
    ):  # the same tensor, or a constant the call makes anew (arange, a scalar operand) with the same values
        return "a tensor from outside the call's ops changed (a new tensor with other values in its place)"
    if first_outputs != second_outputs:
        return "different outputs"
    for index, (a, b) in enumerate(zip(first.tape, second.tape)):
        if not _same(a, b):
            what = a[1].__name__ if a[0] == "op" else getattr(a[1], "__name__", a[0])
            return f"step {index} ({what}) differs"
    return None


def _same(a, b):
    """Equal values, arrays by content, tensors and other objects by identity, functions by their code."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, Tensor):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.dtype):
        return a == b
    if hasattr(a, "shape") and hasattr(a, "dtype") and not isinstance(a, type):
        return a.shape == b.shape and a.dtype == b.dtype and bool(((a == b) | ((a != a) & (b != b))).all())
    if isinstance(a, float):
        return a == b or (a != a and b != b)
    if isinstance(a, types.FunctionType):
        return a.__code__ is b.__code__ and _same(a.__defaults__, b.__defaults__)
    if isinstance(a, (int, str, bytes, complex, bool, type(None), slice, range, frozenset, type(Ellipsis))):
        return a == b
    return False
