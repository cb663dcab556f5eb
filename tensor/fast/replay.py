"""Replaying a recorded call for tensor.compile: the tape's array work, without the framework around it.

A `Plan` is made once from a recording (tensor/fast/recorder.py). Its replay keeps one list of buffers
(`slots`): the arguments' arrays, the external tensors' arrays (read through the tensors at every
replay), and each op's output. Then, in the recorded order:

    op        fn.forward(*input arrays, **params): the op's own forward, on a Function instance made
              once per plan (no Tensor, no graph node, no device check, no Module call, no model Python)
    call      the recorded function again (comparisons, argmax, random functions: fresh draws)
    host      the optimizer's step, zero_grad, a scheduler's step, clipping, as they are
    backward  the ops' backward methods in the topological order computed once at the first replay,
              each gradient handed on as the engine's `_send_to_inputs` does (summing, unbroadcasting,
              accumulating into the leaves' .grad), along routes found once (`_send`)

A buffer is let go right after its last use in the plan, as the eager call frees its temporaries, except
an op's output on "cpu" where the op has an *into* form (tensor/fast/into_forms.py: its forward written
into a given array): the first replay's output array is kept, and later replays write into it instead
of allocating it again; the same for the gradients of a backward with an into form, and for the
temporaries of the forms that keep theirs (a pending gradient's products, the engine's sums of
gradients: into_forms.py lists them). Which arrays are kept, and why none is ever written under the
caller's feet: tensor/fast/replay_buffers.py.
Because every op runs its own forward (or the same NumPy calls with out=) and backward on the same arrays
in the same order as the eager call, a replay gives the eager call's values bit for bit.

The Function instances hold what forward saved for backward; an output returned with a graph (a compiled
module's loss, whose backward the caller starts) keeps its instances busy until that backward runs or
the output is dropped, and a replay in between takes a second set (`_InstanceSet`).
"""

import contextlib
import operator
import types
import weakref

import numpy as np

from .. import autograd, backend
from ..backend import array_module, device_of
from ..tensor import Tensor
from . import graphs, replay_buffers
from .into_forms import BACKWARD_INTO, BACKWARD_KEEPING, FORWARD_KEEPING, HOST_FORMS, INTO, PENDING_INTO, kept
from .replay_profile import profiled_forms, profiling
from .steps import BACKWARD, CALL, HOST, OP, slots_read


def _pending(grad):
    """A gradient handed on unfinished (the engine's PendingGradient: it has compute()), not an array."""
    return hasattr(grad, "compute")


class _InstanceSet:
    """One Function instance per op of the plan, wired as the engine wires a graph (`parents`)."""

    def __init__(self, plan):
        functions = [None] * len(plan.tape)
        no_grad = object.__new__(autograd.MadeInput)  # an input without a gradient, as the engine sees one
        no_grad._ctx, no_grad.requires_grad, no_grad.shape, no_grad.dtype = None, False, (), None
        for index, entry in enumerate(plan.tape):
            if entry[0] != "op":
                continue
            _, cls, _, _, _, graph, parents, _, xp = entry
            linked = ()
            if graph:
                linked = tuple(self._parent(description, functions, no_grad) for description in parents)
            functions[index] = cls(xp, linked)
            if xp is np:  # forms that keep their temporaries in arrays of their own (into_forms.py)
                if cls in FORWARD_KEEPING:
                    functions[index].forward = types.MethodType(FORWARD_KEEPING[cls], functions[index])
                if cls in BACKWARD_KEEPING:
                    functions[index].backward = types.MethodType(BACKWARD_KEEPING[cls], functions[index])
        self.functions = functions
        self.routes = [  # where each op's backward sends each input's gradient (None: nowhere)
            None if fn is None else tuple(_route(parent) for parent in fn.parents) for fn in functions
        ]
        self.owner = None  # a weak reference to the outputs' graph node while a backward may still come
        self.generation = 0  # counts the replays that used this set
        self.kept_for_graphs = []  # saved arrays that captured CUDA graphs read (tensor/fast/graphs.py)
        self.buffers = {}  # slot -> the array its op writes into at each replay (tensor/fast/replay_buffers.py)
        self.buffers_ready = False  # False until a first replay has made them
        self.grad_buffers = {}  # op entry -> the arrays its backward writes its gradients into (or None each)
        self.pending_arrays = {}  # op entry -> {name: array} its pending gradient is computed into

    @staticmethod
    def _parent(description, functions, no_grad):
        if description[0] == "leaf":
            return description[1]
        if description[0] == "none":
            return no_grad
        made = object.__new__(autograd.MadeInput)
        made._ctx, made.requires_grad, made.shape, made.dtype = functions[description[1]], *description[2:]
        return made

    def busy(self):
        return self.owner is not None and self.owner() is not None


class Plan:
    """A recorded call made replayable: `run(argument arrays)` -> the slots (see the module docstring)."""

    def __init__(self, recording, outputs):
        self.tape = recording.tape
        self.slot_count = recording.slot_count
        self.argument_slots = recording.argument_slots
        self.externals = recording.externals
        self.external_of_slot = dict(self.externals)
        leaves = {id(d[1]): d[1] for entry in self.tape if entry[0] == "op" for d in entry[6] if d[0] == "leaf"}
        self.leaves = list(leaves.values())  # the tensors whose .grad a backward of the plan writes
        self.outputs = outputs  # per output: (slot, the op entry that made it if its graph lives on, else None),
        # or (None, a Python value returned as it was recorded)
        producer = {}
        for index, entry in enumerate(self.tape):
            if entry[0] == "op" and entry[5]:
                producer[entry[4]] = index
        self.producer = producer
        self.steps = self._steps()
        self.backward_into = [  # per op entry: its backward's into form, on "cpu"
            BACKWARD_INTO.get(entry[1]) if entry[0] == "op" and entry[8] is np else None for entry in self.tape
        ]
        self.no_backward_into = [None] * len(self.tape)
        self.segments = None  # made at the first replay (tensor/fast/graphs.py); [] where no graph is captured
        self._sets = []
        self._orders = {}  # the op entry a backward starts from -> the op entries in the order backward runs

    def _steps(self):
        """The tape as tuples the replay loop reads fast, each with the slots it is the last to use."""
        last_use = {}
        for index, entry in enumerate(self.tape):
            for slot in slots_read(entry):
                last_use[slot] = index
        kept = {slot for slot, _ in self.outputs if slot is not None} | {slot for slot, _ in self.externals}
        dead = [[] for _ in self.tape]
        for slot, index in last_use.items():
            if slot not in kept:
                dead[index].append(slot)
        steps = []
        for index, entry in enumerate(self.tape):
            kind, free = entry[0], tuple(dead[index])
            if kind == "op":
                _, cls, ins, params, out, _, _, scalar, xp = entry
                inputs = operator.itemgetter(*ins) if len(ins) > 1 else ins[0]  # the input slots, read in one call
                into = INTO.get(cls) if xp is np and not scalar and out not in kept else None
                steps.append((OP, index, inputs, params, out, scalar, free, into))
            elif kind == "call":
                _, function, (args, kwargs), out = entry
                steps.append((CALL, function, args, kwargs, out, free))
            elif kind == "host":
                _, function, args, kwargs, out = entry
                if function in HOST_FORMS:  # clipping with its temporaries kept (into_forms.host_form)
                    function = HOST_FORMS[function]()
                steps.append((HOST, function, args, kwargs, out, free))
            else:
                _, root, grad, retain = entry
                if root not in self.producer:
                    raise RuntimeError("tensor.compile: backward() on a tensor that no recorded op made")
                steps.append((BACKWARD, self.producer[root], root, grad, retain, free))
        return steps

    def instance_set(self):
        """A set of Function instances that no output still waiting for its backward holds."""
        for functions in self._sets:
            if not functions.busy():
                functions.generation += 1
                return functions
        functions = _InstanceSet(self)
        self._sets.append(functions)
        return functions

    def run(self, argument_arrays, functions):
        slots = [None] * self.slot_count
        for slot, array in zip(self.argument_slots, argument_arrays):
            slots[slot] = array
        for slot, t in self.externals:
            slots[slot] = t._array
        if self.segments is None:
            self.segments = graphs.segments(self)  # on "cuda": runs of array work captured as CUDA graphs
        if not self.segments:
            with profiled_forms(self, functions) if profiling() else contextlib.nullcontext():
                self.run_steps(self.steps, slots, functions)
            if not functions.buffers_ready:
                replay_buffers.let_go_of_reachable(self, functions, slots)
        graphed = True  # a graph may launch only while every segment before it ran as a graph: a backward
        for segment in self.segments:  # reads the arrays its forward saved, at the addresses it captured
            graphed = segment.run(slots, functions, graphed)
        return slots

    def run_steps(self, steps, slots, functions):
        """Run `steps` (a part of self.steps) on `slots`, op by op."""
        instances, buffers, first = functions.functions, functions.buffers, not functions.buffers_ready
        for step in steps:
            kind = step[0]
            if kind == OP:
                _, index, inputs, params, out, scalar, free, into = step
                buffer = buffers.get(out) if into is not None else None
                if buffer is not None:  # written into the array the first replay made
                    if type(inputs) is int:
                        array = into(instances[index], buffer, slots[inputs], **params)
                    else:
                        array = into(instances[index], buffer, *inputs(slots), **params)
                else:
                    if type(inputs) is int:
                        array = instances[index].forward(slots[inputs], **params)
                    else:
                        array = instances[index].forward(*inputs(slots), **params)
                    if scalar and isinstance(array, np.generic):
                        array = np.asarray(array)
                    if into is not None and first:
                        ins = (slots[inputs],) if type(inputs) is int else inputs(slots)
                        replay_buffers.offer_output(buffers, out, array, ins, into.any_layout)
                slots[out] = array
            elif kind == CALL:
                _, function, args, kwargs, out, free = step
                result = function(*[_value(a, slots) for a in args], **{k: _value(v, slots) for k, v in kwargs.items()})
                if out is not None:
                    slots[out] = result._array
            elif kind == HOST:
                _, function, args, kwargs, out, free = step
                result = function(*args, **kwargs)
                if out is not None:
                    slots[out] = result._array
            else:
                _, root, root_slot, grad, retain, free = step
                array = slots[root_slot]
                seed = _ones_like(array) if grad is None else slots[grad].astype(array.dtype, copy=False)
                self.backward(functions, root, seed, retain)
            for slot in free:
                slots[slot] = None

    def backward(self, functions, root, seed, retain_graph):
        """The engine's backward pass over the recorded ops from op entry `root`, in its order."""
        order = self._orders.get(root)
        if order is None:
            order = self._orders[root] = self._order(functions, root)
        instances = functions.functions
        instances[root].grad_output = seed
        routes, into, buffers, first = functions.routes, self.backward_into, functions.grad_buffers, None
        if not functions.buffers_ready and backend.graph_capture is None:
            first = buffers  # a first replay: its gradients may become the next replays' buffers
        keep = backend.graph_capture is None  # kept arrays for pending gradients' products and for sums
        if any(getattr(leaf, "_hooks", None) for leaf in self.leaves):  # a hook may keep the gradient it sees
            into, keep = self.no_backward_into, False
        try:
            for index in order:
                fn = instances[index]
                grad, fn.grad_output = fn.grad_output, None
                if _pending(grad):  # computed into arrays kept for op `index` (into_forms.PENDING_INTO)
                    compute_into = PENDING_INTO.get(type(grad)) if keep else None
                    if compute_into is None:
                        grad = grad.compute()
                    else:
                        grad = compute_into(grad, functions.pending_arrays.setdefault(index, {}))
                if grad is not None:
                    buffer = buffers.get(index) if into[index] is not None else None
                    if buffer is not None:  # written into the arrays the first replay's backward made
                        grads = into[index](fn, buffer, grad)
                    else:
                        grads = fn.backward(grad)
                        if first is not None and into[index] is not None:
                            offer = replay_buffers.offer_gradients
                            offer(first, index, grads, grad, fn.saved, into[index].any_layout)
                    _send(grads, routes[index], keep)
                if not retain_graph:
                    if backend.graph_capture is not None:  # a CUDA graph reads them at every launch: kept
                        functions.kept_for_graphs.append(fn.saved)
                    fn.saved = ()
        except BaseException:
            for index in order:
                instances[index].grad_output = None
            raise

    @staticmethod
    def _order(functions, root):
        """The engine's topological order from op entry `root`, as op entries."""
        index_of = {id(fn): index for index, fn in enumerate(functions.functions) if fn is not None}
        start = object.__new__(autograd.MadeInput)
        start._ctx = functions.functions[root]
        return [index_of[id(fn)] for fn in autograd.topological_order(start)]


def _route(parent):
    """(the Function that made the input or None, the leaf tensor or None, the gradient's shape), or None
    for an input that takes no gradient: what the engine's _send_to_inputs looks up at every call."""
    if not parent.requires_grad:
        return None
    if parent._ctx is None:
        return None, parent, parent._array.shape
    return parent._ctx, None, parent.shape


def _send(grads, routes, keep=False):
    """The engine's _send_to_inputs on routes found once: each gradient summed back to its input's shape,
    into a leaf's .grad or added to what the op that made the input has received (with `keep`, on "cpu",
    in an array kept on that op's instance: it is written before that op's backward runs and read after,
    once per replay). Its checks (one gradient per input, of the input's shape and dtype) passed for the
    same ops while recording."""
    if type(grads) is not tuple:
        grads = (grads,)
    for route, grad in zip(routes, grads):
        if grad is None or route is None:
            continue
        producer, leaf, shape = route
        if grad.shape != shape:
            grad = autograd.unbroadcast(grad, shape)
        if leaf is not None:
            leaf._accumulate_grad(grad.compute() if _pending(grad) else grad)
        elif producer.grad_output is None:
            producer.grad_output = grad
        elif _pending(grad):  # a pending gradient adds the others to itself
            producer.grad_output = grad + producer.grad_output
        elif keep and type(grad) is np.ndarray and type(producer.grad_output) is np.ndarray:
            total = producer.grad_output
            producer.grad_output = np.add(total, grad, out=kept(producer, "grad sum", shape, grad.dtype))
        else:
            producer.grad_output = producer.grad_output + grad


class ReplayedGraph(autograd.Function):
    """The graph node of an output a replay returns with its graph: its backward is the recorded ops'
    backward from that output (into the leaves' .grad, as eager), and it hands nothing further back."""

    def __init__(self, plan, functions, root, token):
        super().__init__(None, ())
        self.plan, self.functions, self.root, self.generation = plan, functions, root, functions.generation
        self.token = token  # shared by the call's outputs: the instances are busy while one of them lives

    def backward(self, grad_output):
        if self.functions.generation != self.generation or self.freed:
            raise RuntimeError(
                "trying to backward through a compiled call's graph a second time, or after the compiled "
                "function ran again with the same set of buffers; call backward() before the next call"
            )
        self.token.check_versions()
        with profiled_forms(self.plan, self.functions) if profiling() else contextlib.nullcontext():
            self.plan.backward(self.functions, self.root, grad_output, retain_graph=False)
        self.functions.owner = None
        self.functions.generation += 1  # the saved arrays are gone: the call's other outputs cannot backward
        return ()


def wrap_outputs(plan, functions, slots, argument_tensors):
    """The output tensors of a replay: an op's output as a new Tensor (with a ReplayedGraph node when its
    graph lives on), an external tensor or an argument as itself."""
    externals = plan.external_of_slot
    arguments = dict(zip(plan.argument_slots, argument_tensors))
    outputs, token = [], None
    for slot, root in plan.outputs:
        if slot is None:
            outputs.append(root)  # a Python value, as recorded
        elif slot in externals:
            outputs.append(externals[slot])
        elif slot in arguments:
            outputs.append(arguments[slot])
        elif root is None:
            outputs.append(Tensor._wrap(slots[slot]))
        else:
            if token is None:  # the leaves' versions now: an in-place write before the backward is refused
                token = _Token([(t, t._version_counter.value) for t in plan.leaves])
            outputs.append(Tensor._wrap(slots[slot], True, ReplayedGraph(plan, functions, root, token)))
    functions.owner = weakref.ref(token) if token is not None else None
    return outputs


class _Token:
    """Held by the graph nodes of one replay's outputs; alive while any of them is. It notes the leaves'
    versions at the replay, which the engine would have noted for the saved arrays."""

    def __init__(self, versions):
        self.versions = versions

    def check_versions(self):
        for t, version in self.versions:
            if t._version_counter.value != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [{tuple(t.shape)} {t.dtype}] is at version {t._version_counter.value}; expected "
                    f"version {version} (a leaf the compiled call read). Write out of place, or backward first"
                )


def _value(template, slots):
    kind, value = template
    if kind == "value":
        return value
    return Tensor._wrap(slots[value]) if kind == "slot" else slots[value]


def _ones_like(array):
    """The seed of loss.backward(): ones of the root's shape and dtype, as Tensor.backward makes it."""
    xp = np if type(array) is np.ndarray else array_module(device_of(array))
    return xp.ones(array.shape, dtype=array.dtype)
