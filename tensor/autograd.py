"""The autograd engine: Function, the graph that `Function.apply` records, and the backward pass.

Forward: every differentiable op is a Function. `Function.apply` runs its
forward on raw arrays and, when an input needs a gradient, records the
Function as the output's creator (`tensor._ctx`). The recorded creators form
a graph from the output back to the leaves. The graph holds Functions, the
arrays they saved, and the leaves, not the intermediate tensors (`MadeInput`),
so an intermediate that no backward reads is freed during the forward.

Backward: `backpropagate(root, grad)` sorts that graph topologically (iteratively, so a
10,000-op chain is fine), then walks it from the root to the leaves calling
each Function's backward. Two things happen in exactly one place here:
gradients of a tensor used twice are added up, and gradients of broadcast
inputs are summed back to the input's shape (`unbroadcast`).

A backward may hand an input's gradient on unfinished (`PendingGradient`, a small generic hook): the
engine adds it up with the input's other gradients as any array, and has it computed just before the op
that made the input runs its backward; the engine room uses it to run several gradient products as one.

After a backward without retain_graph, each op drops the arrays it saved and refuses a second backward
through it, as PyTorch's; an op that saved nothing (a sum, a reshape, an addition) keeps its inputs and
runs again, and its gradients add up once more in the leaves' .grad.

Checks: backward refuses to use a saved array that an in-place write has changed since forward (version
counters, tensor/versions.py), and must return one gradient per input, of the input's shape and dtype.
Whether ops record at all is the grad mode (tensor/grad_mode.py). At the end: torch.autograd's own
functions (`backward` of several tensors, `grad`), which call Tensor.backward.
"""

import numpy as np

from .grad_mode import _grad_mode, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .kernels import active as _stand_ins
from .versions import (
    VersionCounter,
    check_saved_versions,
    check_view_version,
    record_saved_versions,
    version_counter_for,
)

__all__ = [
    "Function",
    "MadeInput",
    "PendingGradient",
    "VersionCounter",
    "backward",
    "grad",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "unbroadcast",
]

# How `apply` makes its output: Tensor._wrap of tensor.Tensor, which builds on this module and hands its class
# over with make_outputs_of_class when it is defined; so this module reads, and imports, without tensor/tensor.py.
_wrap = None


def make_outputs_of_class(tensor_class):
    global _wrap
    _wrap = tensor_class._wrap


# ----- Function: an op's forward and backward, and apply, which records the graph ----------------------


class Function:
    """A differentiable op: `forward` on arrays, `backward` maps the output's gradient
    to one gradient per tensor input (None where an input needs none).

    An instance is the op's context. Arrays backward needs go through
    `save_for_backward` (and come back as `self.saved`), so the engine can check them
    for in-place writes and free them after backward; anything else kept on `self` is
    a small scalar or a shape. `self.xp` is the array module (numpy or cupy) and
    `self.needs_input_grad` says which inputs want a gradient, so backward can skip work.
    """

    saved = saved_versions = ()  # what save_for_backward kept, and the versions of the tensors it belongs to
    grad_output = None  # the gradient of the output, added up during backward
    freed = False  # backward has run through it without retain_graph
    released = False  # ... and dropped the arrays it saved: a second backward through it is refused
    backward_once = False  # True: refuse a second backward even when nothing was saved (tensor/in_place.py)
    # positions of inputs that PyTorch's op saves where this one keeps only what it computed from them
    # (LayerNorm keeps x normalized): their versions are checked in backward all the same, as PyTorch's
    checked_inputs = ()

    def __init__(self, xp, parents):
        self.xp, self.parents = xp, parents
        self.needs_input_grad = tuple([p.requires_grad for p in parents])

    def save_for_backward(self, *arrays):
        self.saved = arrays

    def forward(self, *arrays, **params):
        raise NotImplementedError

    def backward(self, grad_output):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors and return a Tensor that remembers how it was made.

        This runs once per op, so it is written for speed: loops rather than generator
        expressions (each of which costs a few hundred nanoseconds to start)."""
        cls = _stand_ins.get(cls, cls)  # fast mode: the engine room's stand-in for this op, if it has one
        array_type, requires_grad = type(inputs[0]._array), False
        for t in inputs:
            if type(t._array) is not array_type and t.device != inputs[0].device:  # one array type: one device
                devices = ", ".join(f"{t.device} {t.shape}" for t in inputs)
                raise RuntimeError(f"{cls.__name__}: all inputs must be on one device, got {devices}")
            requires_grad = requires_grad or t.requires_grad
            if t._version_counter.guarded and _grad_mode.enabled:  # rare: a view a write outdated? (versions.py)
                check_view_version(t)
        requires_grad = requires_grad and _grad_mode.enabled
        xp = np if array_type is np.ndarray else inputs[0]._xp
        fn = cls(xp, tuple([t if t._ctx is None else MadeInput(t) for t in inputs]) if requires_grad else ())
        try:
            array = fn.forward(*[t._array for t in inputs], **params)
        except ValueError as error:
            shapes = " and ".join(str(t.shape) for t in inputs)
            raise RuntimeError(f"{cls.__name__} failed for inputs of shapes {shapes}: {error}") from error
        out = _wrap(array, requires_grad, fn if requires_grad else None, version_counter_for(array, inputs))
        if requires_grad and (fn.saved or fn.checked_inputs):
            fn.saved_versions = record_saved_versions(fn, inputs, out, array)
        return out

    def __repr__(self):
        return f"<{type(self).__name__}>"


class MadeInput:
    """How the graph remembers an input that an earlier op made: that op, and the shape and dtype the
    input's gradient must have, but not the tensor. So an intermediate result is freed as soon as
    nothing needs it (no backward saved it and the program dropped it), as in PyTorch, instead of
    living until backward: in the lecture GPT each head's scaled and masked (B, T, T) scores. Leaves
    (parameters, inputs) stay in `parents` as tensors: backward writes their .grad."""

    __slots__ = ("_ctx", "requires_grad", "shape", "dtype")

    def __init__(self, t):
        self._ctx, self.requires_grad = t._ctx, t.requires_grad  # where its gradient goes, and whether
        self.shape, self.dtype = t._array.shape, t._array.dtype  # what its gradient must be: as a leaf's .data


class PendingGradient:
    """A gradient that a backward hands on before computing it, so that it can be computed together with
    others that reach the same input.

    Function.backward may return one in place of an input's gradient array. The engine adds up what an
    input receives with `+` as always, the pending gradient on the left (`pending + array` and `pending +
    pending` are PendingGradients), and calls `compute()`, which returns the array, when the gradient is
    needed: just before the backward of the op that made the input, or at once for a leaf. `shape` and
    `dtype` are the array's, so the engine checks it as any gradient. The engine room's Linear returns one
    so that the Linears that read one input (the lecture model's heads) run their gradient products as one.
    """

    shape, dtype = (), None

    def __add__(self, other):
        raise NotImplementedError

    def compute(self):
        raise NotImplementedError


# ----- the backward pass ---------------------------------------------------------------------------------


def backpropagate(root, grad, retain_graph=False):
    """Accumulate d(root)/d(leaf) into every leaf's .grad, seeded with `grad` = d(root)/d(root) (an array).

    The gradient flowing into a non-leaf tensor is kept on the Function that made
    it (`fn.grad_output`); a tensor used twice receives the sum of both paths.
    Tensor.backward checks the seed and calls this; torch.autograd.backward is `backward` below.
    """
    if root._ctx is None:
        root._accumulate_grad(grad)
        return
    if root._version_counter.guarded:  # a view a write outdated? Its grad_fn is refused (versions.py)
        check_view_version(root)
    order = topological_order(root)
    if any(fn.released for fn in order):  # checked before any gradient moves: no .grad is left half-updated
        released = next(fn for fn in order if fn.released)
        raise RuntimeError(
            f"trying to backward through the graph a second time ({type(released).__name__}'s saved values "
            "have already been freed); pass retain_graph=True to the first backward() to keep them"
        )
    root._ctx.grad_output = grad
    try:
        for fn in order:
            check_saved_versions(fn)
            out_grad, fn.grad_output = fn.grad_output, None
            if isinstance(out_grad, PendingGradient):
                out_grad = out_grad.compute()
            if out_grad is not None:  # else no gradient flowed into this op, and none flows out of it
                _send_to_inputs(fn, fn.backward(out_grad))
            fn.freed = fn.freed or not retain_graph  # backward has run through it without retain_graph
            if not retain_graph and (fn.saved or fn.backward_once):  # an op that saved nothing can run again
                fn.saved, fn.saved_versions, fn.parents, fn.released = (), (), (), True
    except BaseException:
        for fn in order:  # a retained graph must not keep half a pass's gradients for the next backward
            fn.grad_output = None
        raise


def topological_order(root):
    """Functions reachable from root, each listed after every Function that uses its output.

    An iterative depth-first search with an explicit stack, so graph depth is
    limited by memory, not by Python's recursion limit.
    """
    order, visited = [], set()  # Functions hash by identity
    stack = [(root._ctx, False)]
    while stack:
        fn, inputs_done = stack.pop()
        if inputs_done:  # every Function that made one of fn's inputs is listed: list fn
            order.append(fn)
        elif fn not in visited:  # first visit: come back to fn after the Functions that made its inputs
            visited.add(fn)
            stack.append((fn, True))
            for parent in fn.parents:
                if parent._ctx is not None:
                    stack.append((parent._ctx, False))
    order.reverse()
    return order


def _send_to_inputs(fn, input_grads):
    """Hand each gradient that fn.backward returned to its input: into a leaf's .grad, or added to what the
    op that made the input has received so far. A broadcast input's gradient is summed back to its shape."""
    if type(input_grads) is not tuple:
        input_grads = (input_grads,)
    if len(input_grads) != len(fn.parents):
        raise RuntimeError(
            f"{type(fn).__name__}.backward returned {len(input_grads)} gradient(s) for "
            f"{len(fn.parents)} input(s): return one per input (None where there is none)"
        )
    for position, (parent, parent_grad) in enumerate(zip(fn.parents, input_grads)):
        if parent_grad is None or not parent.requires_grad:
            continue
        producer = parent._ctx
        expected = parent._array if producer is None else parent  # a leaf's array, or what MadeInput noted of it
        summed = unbroadcast(parent_grad, expected.shape)
        if summed.shape != expected.shape or summed.dtype != expected.dtype:
            raise RuntimeError(
                f"{type(fn).__name__}.backward returned a gradient of shape {parent_grad.shape} and dtype "
                f"{parent_grad.dtype} for input {position}, which has shape {tuple(expected.shape)} "
                f"and dtype {expected.dtype}"
            )
        if producer is None:
            parent._accumulate_grad(summed.compute() if isinstance(summed, PendingGradient) else summed)
        elif producer.grad_output is None:
            producer.grad_output = summed
        elif isinstance(summed, PendingGradient):  # a pending gradient adds the others to itself
            producer.grad_output = summed + producer.grad_output
        else:
            producer.grad_output = producer.grad_output + summed


def unbroadcast(grad, shape):
    """Sum a gradient that was broadcast up to grad.shape back down to `shape`.

    Broadcasting copies an input along new leading dims and along dims of size 1;
    the gradient of a copy is the sum over the copies.
    """
    if grad.shape == shape or grad.ndim < len(shape):  # equal, or no broadcast of shape (the engine reports it)
        return grad
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))  # the new leading dims
    stretched_ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched_ones, keepdims=True)  # the dims of size 1


# ----- torch.autograd's functions, on Tensors: backward of several outputs, and grad -----------------------


def backward(tensors, grad_tensors=None, retain_graph=None):
    """torch.autograd.backward(tensors, grad_tensors): tensor.backward(gradient) for each, the graph kept
    until the last, so their gradients add up in the leaves' .grad."""
    tensors = [tensors] if hasattr(tensors, "_ctx") else list(tensors)
    if grad_tensors is None or hasattr(grad_tensors, "_ctx"):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    grad_tensors = list(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"grad_tensors has {len(grad_tensors)} gradient(s) for {len(tensors)} tensor(s)")
    for position, (t, gradient) in enumerate(zip(tensors, grad_tensors)):
        t.backward(gradient, retain_graph=bool(retain_graph) or position < len(tensors) - 1)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None):
    """torch.autograd.grad: d(outputs)/d(inputs) as a tuple, every tensor's .grad left as it was.

    Runs the ordinary backward with the graph's leaves' .grad set aside (and the inputs' gradients
    kept, retain_grad's way, for the non-leaf ones), then puts the .grad values back."""
    if create_graph:
        raise NotImplementedError("autograd.grad(create_graph=True): gradients of gradients are not supported here")
    outputs = [outputs] if hasattr(outputs, "_ctx") else list(outputs)
    inputs = [inputs] if hasattr(inputs, "_ctx") else list(inputs)
    for position, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (index {position}) does not require grad")
    leaves = {id(t): t for t in inputs if t.is_leaf}
    for out in outputs:
        for fn in topological_order(out) if out._ctx is not None else ():
            leaves.update({id(p): p for p in fn.parents if p._ctx is None and p.requires_grad})
    set_aside = {key: (t.grad, t._spare_grad) for key, t in leaves.items()}
    retained = [t for t in inputs if not t.is_leaf and not t.retains_grad]
    try:
        for t in leaves.values():
            t.grad = None
        for t in inputs:
            t.retain_grad()
            if not t.is_leaf:
                t.grad = None
        backward(outputs, grad_outputs, retain_graph)
        found = tuple(t.grad for t in inputs)
    finally:
        for key, t in leaves.items():
            t.grad, t._spare_grad = set_aside[key]
        for t in retained:
            t._retains_grad, t.grad = False, None
    for position, gradient in enumerate(found):
        if gradient is None and not allow_unused:
            raise RuntimeError(
                f"The differentiated Tensor at index {position} appears to not have been used in the graph. "
                "Set allow_unused=True if this is the desired behavior."
            )
    return found
