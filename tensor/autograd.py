"""The autograd engine: Function, the backward pass, grad mode and version counters.

Forward: every differentiable op is a Function. `Function.apply` runs its
forward on raw arrays and, when an input needs a gradient, records the
Function as the output's creator (`tensor._ctx`). The recorded creators form
a graph from the output back to the leaves. The graph holds Functions, the
arrays they saved, and the leaves, not the intermediate tensors (`MadeInput`),
so an intermediate that no backward reads is freed during the forward.

Backward: `backward(root)` sorts that graph topologically (iteratively, so a
10,000-op chain is fine), then walks it from the root to the leaves calling
each Function's backward. Two things happen in exactly one place here:
gradients of a tensor used twice are added up, and gradients of broadcast
inputs are summed back to the input's shape (`unbroadcast`).

A backward may hand an input's gradient on unfinished (`PendingGradient`): the engine
adds it up with the input's other gradients as any array, and has it computed just before
the op that made the input runs its backward. nn.functional.Linear uses that so that the
Linears reading one input run their gradient products as one product.

Checks: every in-place write bumps a version counter shared by all views of
the same storage; `apply` notes the versions of the tensors whose arrays a
Function saved, and backward refuses to use them once they have changed. And
backward must return one gradient per input, of the input's shape and dtype.
"""

import functools
import threading

import numpy as np

from .kernels import active as _stand_ins

# ----- grad mode: whether ops record a graph, per thread as in PyTorch ----------------------------


class _GradMode(threading.local):
    enabled = True  # every new thread starts with grad enabled


_grad_mode = _GradMode()


def is_grad_enabled():
    return _grad_mode.enabled


class _SetGradMode:
    """Sets grad mode inside a `with` block or a decorated function, then restores the previous mode."""

    mode = True

    def __enter__(self):
        self._previous = _grad_mode.enabled
        _grad_mode.enabled = self.mode

    def __exit__(self, *exc_info):
        _grad_mode.enabled = self._previous

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            previous, _grad_mode.enabled = _grad_mode.enabled, mode
            try:
                return fn(*args, **kwargs)
            finally:
                _grad_mode.enabled = previous

        return wrapper


class no_grad(_SetGradMode):
    """Context manager and decorator: inside it, ops record no graph."""

    mode = False


class enable_grad(_SetGradMode):
    """Context manager and decorator: turn graph recording back on inside no_grad."""

    mode = True


class set_grad_enabled(_SetGradMode):
    """set_grad_enabled(mode): a plain call sets grad mode at once; as a context manager or
    decorator it sets it inside only, as PyTorch's does."""

    def __init__(self, mode):
        self.mode, self._previous = bool(mode), _grad_mode.enabled
        _grad_mode.enabled = self.mode

    def __enter__(self):
        pass  # __init__ has set the mode already

    def __call__(self, fn):
        _grad_mode.enabled = self._previous  # used as a decorator: only the function runs in `mode`
        return super().__call__(fn)


# ----- version counters -------------------------------------------------------------------------------


class VersionCounter:
    """How many in-place writes a storage has seen; a tensor and its views share one counter."""

    value = 0  # each in-place write adds 1 (on the instance)


def storage_of(array):
    """The array that owns the memory `array` looks at (itself when it owns it)."""
    while isinstance(array.base, type(array)):  # a view's base is the array it looks into
        array = array.base
    return array


def version_counter_for(out, inputs):
    """An output that is a view of an input's storage shares its counter; any other gets a new one."""
    if out.base is not None:  # a view: of an input, or of an array the op made itself
        storage = storage_of(out)
        for t in inputs:
            if storage_of(t.data) is storage:
                return t._version_counter
    return VersionCounter()


def owner_of(array, owners):
    """The position in `owners` of the tensor whose storage `array` looks at; None for an array
    the op made for itself (private to it: no in-place write can reach it)."""
    for position, t in enumerate(owners):
        if t.data is array:
            return position
    if getattr(array, "base", None) is None:  # owns its memory (or is no array: a slice of a key)
        return None
    storage = storage_of(array)
    for position, t in enumerate(owners):
        if storage_of(t.data) is storage:
            return position
    return None


def record_saved_versions(fn, inputs, out):
    """(counter, version now, shape, dtype, input position or "output") of each saved array's tensor."""
    owners = (*inputs, out)
    records = []
    for array in fn.saved:
        position = owner_of(array, owners)
        if position is not None:
            counter, data = owners[position]._version_counter, owners[position].data
            role = position if position < len(inputs) else "output"
            records.append((counter, counter.value, data.shape, data.dtype, role))
    return tuple(records)


def check_saved_versions(fn):
    """Refuse to run backward on saved arrays that an in-place write has changed since forward."""
    for counter, version, shape, dtype, position in fn.saved_versions:
        if counter.value != version:
            role = "its output" if position == "output" else f"its input {position}"
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: [{shape} {dtype}] is at version {counter.value}; expected version {version} "
                f"(saved by {type(fn).__name__} as {role}). Write out of place (x = x * 2) or into a clone() instead"
            )


# ----- Function and the backward pass -------------------------------------------------------------------


def unbroadcast(grad, shape):
    """Sum a gradient that was broadcast up to grad.shape back down to `shape`.

    Broadcasting copies an input along new leading dims and along dims of size 1;
    the gradient of a copy is the sum over the copies.
    """
    if grad.shape == shape or grad.ndim < len(shape):  # equal, or no broadcast of shape (the engine reports it)
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    kept_ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if kept_ones:
        grad = grad.sum(axis=kept_ones, keepdims=True)
    return grad


class Function:
    """A differentiable op: `forward` on arrays, `backward` maps the output's gradient
    to one gradient per tensor input (None where an input needs none).

    An instance is the op's context. Arrays backward needs go through
    `save_for_backward` (and come back as `self.saved`), so the engine can check them
    for in-place writes and free them after backward; anything else kept on `self` is
    a small scalar or a shape. `self.xp` is the array module (numpy or cupy) and
    `self.needs_input_grad` says which inputs want a gradient, so backward can skip work.
    """

    def __init__(self, xp, parents):
        self.xp = xp
        self.parents = parents
        self.needs_input_grad = tuple([p.requires_grad for p in parents])
        self.saved, self.saved_versions = (), ()
        self.freed = False
        self.grad_output = None

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
        first = inputs[0]
        array_type, requires_grad = type(first.data), False
        for t in inputs:
            if type(t.data) is not array_type and t.device != first.device:  # one array type: one device
                devices = ", ".join(f"{t.device} {t.shape}" for t in inputs)
                raise RuntimeError(f"{cls.__name__}: all inputs must be on one device, got {devices}")
            requires_grad = requires_grad or t.requires_grad
        requires_grad = requires_grad and _grad_mode.enabled
        xp = np if array_type is np.ndarray else first._xp
        fn = cls(xp, tuple([t if t._ctx is None else MadeInput(t) for t in inputs]) if requires_grad else ())
        try:
            array = fn.forward(*[t.data for t in inputs], **params)
        except ValueError as error:
            shapes = " and ".join(str(t.shape) for t in inputs)
            raise RuntimeError(f"{cls.__name__} failed for inputs of shapes {shapes}: {error}") from error
        out = _wrap(array, requires_grad, fn if requires_grad else None, version_counter_for(array, inputs))
        if requires_grad and fn.saved:
            fn.saved_versions = record_saved_versions(fn, inputs, out)
        return out

    def __repr__(self):
        return f"<{type(self).__name__}>"


class MadeInput:
    """How the graph remembers an input that an earlier op made: that op, and the shape and dtype the
    input's gradient must have, but not the tensor. So an intermediate result is freed as soon as
    nothing needs it (no backward saved it and the program dropped it), as in PyTorch, instead of
    living until backward: in the lecture GPT each head's scaled and masked (B, T, T) scores. Leaves
    (parameters, inputs) stay in `parents` as tensors: backward writes their .grad."""

    __slots__ = ("_ctx", "requires_grad", "shape", "array_dtype")

    def __init__(self, t):
        self._ctx, self.requires_grad, self.shape, self.array_dtype = (
            t._ctx,
            t.requires_grad,
            t.data.shape,
            t.data.dtype,
        )


class PendingGradient:
    """A gradient that a backward hands on before computing it, so that it can be computed together with
    others that reach the same input.

    Function.backward may return one in place of an input's gradient array. The engine adds up what an
    input receives with `+` as always, the pending gradient on the left (`pending + array` and `pending +
    pending` are PendingGradients), and calls `compute()`, which returns the array, when the gradient is
    needed: just before the backward of the op that made the input, or at once for a leaf. `shape` and
    `dtype` are the array's, so the engine checks it as any gradient. nn.functional.Linear returns one so
    that the Linears that read one input (the lecture model's heads) run their gradient products as one.
    """

    shape, dtype = (), None

    def __add__(self, other):
        raise NotImplementedError

    def compute(self):
        raise NotImplementedError


def _wrap(array, requires_grad, ctx, version_counter):
    """Tensor._wrap; tensor.Tensor imports this module, so the method is looked up on first use."""
    global _wrap
    from .tensor import Tensor

    _wrap = Tensor._wrap
    return _wrap(array, requires_grad, ctx, version_counter)


def topological_order(root):
    """Functions reachable from root, each listed after every Function that uses its output.

    An iterative depth-first search with an explicit stack, so graph depth is
    limited by memory, not by Python's recursion limit.
    """
    order, visited = [], set()  # Functions hash by identity
    stack = [(root._ctx, False)]
    while stack:
        fn, children_done = stack.pop()
        if children_done:
            order.append(fn)
            continue
        if fn in visited:
            continue
        visited.add(fn)
        stack.append((fn, True))
        for parent in fn.parents:
            if parent._ctx is not None and parent._ctx not in visited:
                stack.append((parent._ctx, False))
    order.reverse()
    return order


def _send_to_inputs(fn, input_grads):
    """Hand each gradient that fn.backward returned to its input: into a leaf's .grad, or added to what the
    op that made the input has received so far. A broadcast input's gradient is summed back to its shape."""
    parents = fn.parents
    if type(input_grads) is not tuple:
        input_grads = (input_grads,)
    if len(input_grads) != len(parents):
        raise RuntimeError(
            f"{type(fn).__name__}.backward returned {len(input_grads)} gradient(s) for "
            f"{len(parents)} input(s): return one per input (None where there is none)"
        )
    for position, parent_grad in enumerate(input_grads):
        parent = parents[position]
        if parent_grad is None or not parent.requires_grad:
            continue
        producer = parent._ctx
        shape, dtype = (
            (parent.data.shape, parent.data.dtype) if producer is None else (parent.shape, parent.array_dtype)
        )
        summed = parent_grad if parent_grad.shape == shape else unbroadcast(parent_grad, shape)
        if summed.shape != shape or summed.dtype != dtype:
            raise RuntimeError(
                f"{type(fn).__name__}.backward returned a gradient of shape {parent_grad.shape} and dtype "
                f"{parent_grad.dtype} for input {position}, which has shape {tuple(shape)} and dtype {dtype}"
            )
        if producer is None:
            parent._accumulate_grad(summed.compute() if isinstance(summed, PendingGradient) else summed)
        elif producer.grad_output is None:
            producer.grad_output = summed
        elif isinstance(summed, PendingGradient):  # a pending gradient adds the others to itself
            producer.grad_output = summed + producer.grad_output
        else:
            producer.grad_output = producer.grad_output + summed


def backward(root, grad, retain_graph=False):
    """Accumulate d(root)/d(leaf) into every leaf's .grad, seeded with `grad` = d(root)/d(root).

    The gradient flowing into a non-leaf tensor is kept on the Function that made
    it (`fn.grad_output`); a tensor used twice receives the sum of both paths.
    """
    if root._ctx is None:
        root._accumulate_grad(grad)
        return
    order = topological_order(root)
    root._ctx.grad_output = grad
    try:
        for fn in order:
            if fn.freed:
                raise RuntimeError(
                    f"trying to backward through the graph a second time ({type(fn).__name__} has "
                    "already been freed); pass retain_graph=True to the first backward() to keep it"
                )
            if fn.saved_versions:
                check_saved_versions(fn)
            out_grad, fn.grad_output = fn.grad_output, None
            if isinstance(out_grad, PendingGradient):
                out_grad = out_grad.compute()
            if out_grad is not None:  # else no gradient flowed into this op, and none flows out of it
                _send_to_inputs(fn, fn.backward(out_grad))
            if not retain_graph:
                fn.saved, fn.saved_versions, fn.parents, fn.freed = (), (), (), True
    except BaseException:
        for fn in order:  # a retained graph must not keep half a pass's gradients for the next backward
            fn.grad_output = None
        raise
