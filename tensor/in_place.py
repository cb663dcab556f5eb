"""In-place ops that autograd records, as PyTorch does: `h += 1`, `h.mul_(w)`, `x[i] = v`, `x[i] += v`.

A write into a tensor that is in the graph (it requires grad, or the value written does) is the
out-of-place op, computed from a snapshot of the tensor's old values that carries its old history,
then written back into the tensor's own memory:

    snapshot = a copy of x, made by x's history    new = op(snapshot, value)    x[...] = new;  x's history = new's

So views of x see the new values, x's version counter counts the write (a backward that saved x's
old values refuses to run: tensor/autograd.py), and the gradient flows through the op into x's old
history. What the op saved for its backward is its own (the snapshot, the new values), never
overwritten by a later write into x.

`x[key] = v` is the op SetItem below. A view made by indexing (`row = x[0]`) remembers its base and
key, so a recorded write into the view also gives the base the history `x = SetItem(x, key, row)`,
as PyTorch's CopySlices does: after `x[0] += y` (Python runs `row = x[0]; row += y; x[0] = row`) or
`x[0].add_(y)`, a backward through x reaches y. (Views made otherwise, by view, reshape or transpose,
do not remember their base: a recorded write into one changes the base's values but not its history;
write through indexing, or out of place, when the base is used afterwards.)

A leaf that requires grad (a parameter) refuses every write outside `no_grad`, with PyTorch's message.
"""

from . import hooks
from .autograd import Function


class SetItem(Function):
    """z = x with z[key] = v;  dz/dx = 1 outside key and 0 inside it;  dz/dv = dz[key]
    (summed back to v's shape when v was broadcast: the engine's unbroadcast)."""

    def forward(self, x, value, key, is_basic):
        self.value_ndim, self.is_basic = value.ndim, is_basic
        if is_basic:
            self.key = key  # ints, slices, None and Ellipsis: small
        else:
            self.save_for_backward(*key)  # index arrays: the engine frees them after backward
        out = x.copy()
        out[key] = value
        return out

    def backward(self, grad):
        key = self.key if self.is_basic else self.saved
        grad_x = grad_value = None
        if self.needs_input_grad[0]:
            grad_x = grad.copy()
            grad_x[key] = 0
        if self.needs_input_grad[1]:
            grad_value = grad[key]
            missing = self.value_ndim - grad_value.ndim  # v may carry leading 1s that x[key] has not
            if missing > 0:
                grad_value = grad_value.reshape((1,) * missing + grad_value.shape)
        return grad_x, grad_value


def refuse_leaf(t):
    """PyTorch's error for a write into a parameter outside no_grad."""
    raise RuntimeError(
        "a leaf Variable that requires grad is being used in an in-place operation. (The tensor has shape "
        f"{t.shape}; write into it inside `with torch.no_grad():`, as an optimizer does, or write into a clone().)"
    )


def base_of(t):
    """(base, key) when t is a view that indexing made of base, else None."""
    return getattr(t, "_view_of", None)


def check_recordable(t):
    """Refuse a recorded write that PyTorch refuses: into a parameter, or into a view of one."""
    if t.requires_grad and t.is_leaf:
        refuse_leaf(t)
    view_of = base_of(t)
    if view_of is not None:
        base = view_of[0]
        if base.requires_grad and base.is_leaf:
            raise RuntimeError(
                "a view of a leaf Variable that requires grad is being used in an in-place operation. "
                f"(The view has shape {t.shape}, its base {base.shape}; write inside `with torch.no_grad():`.)"
            )
        check_recordable(base)


def record(t, compute):
    """Write compute(snapshot of t) into t and make it t's history (see the module docstring)."""
    check_recordable(t)
    snapshot = type(t)._wrap(t._array.copy(), t.requires_grad, t._ctx)
    new = compute(snapshot)
    if new.shape != t.shape:
        raise RuntimeError(
            f"output with shape {list(t.shape)} doesn't match the broadcast shape {list(new.shape)} "
            "(an in-place operation keeps its tensor's shape)"
        )
    if new.dtype != t.dtype:
        raise RuntimeError(
            f"result type {new.dtype} can't be cast to the desired output type {t.dtype} (in-place operation)"
        )
    t._refuse_expanded_write()
    t._array[...] = new._array
    t._version_counter.value += 1
    t._ctx, t.requires_grad = new._ctx, new.requires_grad
    hooks.hook_producer(t)  # hooks and retain_grad follow the tensor to its new history
    view_of = base_of(t)
    if view_of is not None:
        base, key = view_of
        record(base, lambda base_snapshot: SetItem.apply(base_snapshot, t, key=key, is_basic=True))
    return t
