"""In-place ops that autograd records, as PyTorch does: `h += 1`, `h.mul_(w)`, `x[i] = v`, `x[i] += v`.

A write into a tensor that is in the graph (it requires grad, or the value written does) is the
out-of-place op, computed from a snapshot of the tensor's old values that carries its old history,
then written back into the tensor's own memory:

    snapshot = a copy of x, made by x's history    new = op(snapshot, value)    x[...] = new;  x's history = new's

So views of x see the new values, x's version counter counts the write (a backward that saved x's
old values refuses to run: tensor/autograd.py), and the gradient flows through the op into x's old
history. What the op saved for its backward is its own (the snapshot, the new values), never
overwritten by a later write into x.

`x[key] = v` is the op SetItem below. Every view op (view, reshape, permute, transpose, .T, squeeze,
unsqueeze, expand, indexing, and split, chunk and unbind, which index) links its result to its base:
`view._view_of = (base, op, params)`, where `op` is the Function that made the view, and replaying
`op`'s forward with `params` on any array of the base's shape gives the same view of that array
(`view_of`). So a recorded write into a view also gives the base the history
`base = SetItem(base, view, region=(op, params))`, as PyTorch's CopySlices does: after `x[0] += y`
(Python runs `row = x[0]; row += y; x[0] = row`), `x.T.mul_(y)` or `x.view(-1)[1:].add_(y)`, a
backward through x reaches y (and a view of a view passes the write on to its base's base). A write
through a view of an expanded tensor (`h.expand(3, 2)[0].mul_(y)`) changes every copy: it goes to the
expanded tensor's base through both views, and the expanded tensor is remade from the base's new history.
The pieces that split, chunk and unbind return are views too, but PyTorch refuses a recorded write into them.

A view made under `no_grad` is outside every graph: its requires_grad is its root's (the end of its
chain of views, PyTorch's `._base`), also after the root's flag changes (`follow_base`); it never
receives a .grad, and a write into it, or into a view of it, with grad mode on is refused, as in PyTorch.

A leaf that requires grad (a parameter), and every view of one, refuses a write outside `no_grad`,
with PyTorch's messages.
"""

import weakref

from . import hooks
from .autograd import Function
from .versions import guard_view


class SetItem(Function):
    """z = x with z[key] = v, or, for a view of x (region = (op, params)), with op(z)[...] = v (PyTorch's
    CopySlices);  dz/dx = 1 outside the written part and 0 inside it;  dz/dv = dz's written part
    (summed back to v's shape when v was broadcast: the engine's unbroadcast)."""

    backward_once = True  # as PyTorch's CopySlices and IndexPut: a second backward is refused, saved or not

    def forward(self, x, value, key=Ellipsis, is_basic=True, region=None):
        self.value_ndim, self.is_basic, self.region = value.ndim, is_basic, region
        if is_basic:
            self.key = key  # ints, slices, None and Ellipsis: small
        else:
            self.save_for_backward(*key)  # index arrays: the engine frees them after backward
        out = x.copy()
        self.part(out)[key] = value
        return out

    def part(self, array):
        """The region of array that the write goes through: array itself, or the view (op, params) of it."""
        return array if self.region is None else view_of(self.xp, array, self.region)

    def backward(self, grad):
        key = self.key if self.is_basic else self.saved
        grad_x = grad_value = None
        if self.needs_input_grad[0]:
            grad_x = self.xp.array(grad)  # a copy, an array also for a 0-d gradient (NumPy's may be a scalar)
            self.part(grad_x)[key] = 0
        if self.needs_input_grad[1]:
            grad_value = self.part(grad)[key]
            missing = self.value_ndim - grad_value.ndim  # v may carry leading 1s that x[key] has not
            if missing > 0:
                grad_value = grad_value.reshape((1,) * missing + grad_value.shape)
        return grad_x, grad_value


def view_of(xp, array, region):
    """The view that region = (op, params) makes of array: op's forward, replayed (a view of a C-ordered array:
    reshape, permute, expand and basic indexing all look into its memory). A list of such pairs is a view of a
    view, replayed in order (a write through a view of an expanded tensor: see record)."""
    for op, params in region if isinstance(region, list) else [region]:
        array = op(xp, ()).forward(array, **params)
    return array


def overlaps_itself(t):
    """Whether elements of t share memory (an expanded tensor: a stride 0 along a dim of more than one)."""
    array = t._array
    return array.size > 1 and any(stride == 0 and n > 1 for n, stride in zip(array.shape, array.strides))


def refuse_leaf(t):
    """PyTorch's error for a write into a parameter outside no_grad."""
    raise RuntimeError(
        "a leaf Variable that requires grad is being used in an in-place operation. (The tensor has shape "
        f"{t.shape}; write into it inside `with torch.no_grad():`, as an optimizer does, or write into a clone().)"
    )


def base_of(t):
    """(base, op, params) when t is a view that op made of base, else None."""
    return getattr(t, "_view_of", None)


def pieces(views, made_by):
    """The views split, chunk or unbind returns, marked in their links: PyTorch refuses a recorded write into
    one of them, or into a view of one (which of the pieces' histories would it rewrite?)."""
    for view in views:
        view._view_of += (made_by,)
        if getattr(view, "_made_at_version", None) is None:  # (made under no_grad: guarded as such)
            guard_view(view, made_by)
    return tuple(views)


def root_of(t):
    """The tensor at the end of t's chain of views (t itself when t is no view): the owner of the storage."""
    while (link := base_of(t)) is not None:
        t = link[0]
    return t


def mark_no_grad_view(view, base):
    """A view made under no_grad requires grad as its root does (the tensor at the end of its chain of views,
    as PyTorch's `._base`), now and after the root's flag changes."""
    view._no_grad_view, view.requires_grad = True, root_of(base).requires_grad
    guard_view(view, "no_grad")  # once its storage is written in place, PyTorch refuses it in the graph
    counter = base._version_counter  # shared by the base and all its views
    counter.no_grad_views = [r for r in counter.no_grad_views if r() is not None] + [weakref.ref(view)]


def follow_base(t):
    """After t.requires_grad_(...): each view of t's storage made under no_grad takes its root's flag."""
    for ref in t._version_counter.no_grad_views:
        view = ref()
        if view is not None:
            view.requires_grad = root_of(view).requires_grad


def check_recordable(t):
    """Refuse a recorded write that PyTorch refuses: into a parameter or a view of one, into a view made under
    no_grad or a view of one, into a piece of split or unbind."""
    if getattr(t, "_no_grad_view", False):  # which graph should the write enter?
        raise RuntimeError(
            f"a view of shape {t.shape} was created in no_grad mode and is being modified in place with grad mode on, "
            "or a view of it is (PyTorch forbids it): write inside `with torch.no_grad():` or take the view in grad mode"
        )
    if t.requires_grad and t.is_leaf:
        refuse_leaf(t)
    link = base_of(t)
    if link is not None:
        base = link[0]
        if base.requires_grad and base.is_leaf:
            raise RuntimeError(
                "a view of a leaf Variable that requires grad is being used in an in-place operation. "
                f"(The view has shape {t.shape}, its base {base.shape}; write inside `with torch.no_grad():`.)"
            )
        if len(link) > 3:
            raise RuntimeError(
                f"a view of shape {t.shape} that {link[3]} returned (one of several views of one tensor) is being "
                "modified in place in the graph, which PyTorch forbids: write out of place, or into a clone()"
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
    t._refuse_expanded_write()  # in the graph, PyTorch's backward through such a write refuses
    t._array[...] = new._array
    t._version_counter.value += 1
    t._ctx, t.requires_grad = new._ctx, new.requires_grad
    hooks.hook_producer(t)  # hooks and retain_grad follow the tensor to its new history
    link = base_of(t)
    if link is None:
        return t
    base, op, params = link[:3]  # a view: its base takes the write as its history too (CopySlices)
    region, expanded = [(op, params)], []
    while overlaps_itself(base) and base_of(base) is not None:  # the write changes every copy of what it wrote:
        expanded.append(base)  # it is one into the expanded tensor's base, through both views (as PyTorch's)
        base, op, params = base_of(base)[:3]
        region.insert(0, (op, params))
    record(base, lambda base_snapshot: SetItem.apply(base_snapshot, t, region=region if expanded else region[0]))
    for view in reversed(expanded):  # each expanded tensor is its view of its base's new history
        outer, op, params = base_of(view)[:3]
        remade = op.apply(outer, **params)
        view._ctx, view.requires_grad = remade._ctx, remade.requires_grad
        hooks.hook_producer(view)
    return t
