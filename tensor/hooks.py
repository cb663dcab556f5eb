"""Tensor hooks and retain_grad: seeing (and replacing) a tensor's gradient as backward computes it.

A leaf's gradient arrives in Tensor._accumulate_grad, which runs the leaf's hooks first. A non-leaf's
gradient is the one the Function that made it receives, so its hooks run by wrapping that Function's
backward from outside the engine (the engine holds autograd and nothing else): the wrapper runs the
hooks, keeps the gradient in .grad when the tensor retains it, then calls the Function's own backward.
"""

import weakref

from . import autograd


def register(t, hook):
    """t.register_hook(hook): add the hook, and make sure the gradient reaches it."""
    hooks = getattr(t, "_hooks", None)
    if hooks is None:
        hooks = t._hooks = []
    hooks.append(hook)
    hook_producer(t)
    return RemovableHook(hooks, hook)


def run_hooks(t, grad):
    """grad (an array) after each of t's hooks: a hook returning a Tensor replaces it, None keeps it."""
    for hook in getattr(t, "_hooks", ()):
        result = hook(autograd._wrap(grad))  # a plain Tensor, for a parameter too
        if result is not None:
            if not hasattr(result, "_array") or result.shape != t.shape:
                raise RuntimeError(
                    f"a hook returned {getattr(result, 'shape', type(result).__name__)} for the gradient of "
                    f"a tensor of shape {t.shape}: return a Tensor of that shape, or None"
                )
            grad = result._array.astype(grad.dtype, copy=False)
    return grad


def hook_producer(t):
    """Run t's hooks (and keep its gradient, for retain_grad) when the Function that made t receives its
    gradient. Once per Function; the wrapper looks the hooks up on t each time, so later ones count too."""
    producer = t._ctx
    if producer is None or producer.__dict__.get("hooked_by") is not None:
        return
    if not (getattr(t, "_hooks", None) or t.retains_grad):
        return
    # weak references both ways and the class's backward: no reference cycle keeps the Function alive
    backward, made, maker = type(producer).backward, weakref.ref(t), weakref.ref(producer)

    def backward_with_hooks(grad):
        tensor, fn = made(), maker()
        if tensor is not None and tensor._ctx is fn:
            grad = run_hooks(tensor, grad)
            if tensor.retains_grad:
                kept = grad.copy() if tensor.grad is None else tensor.grad._array + grad
                tensor.grad = type(tensor)._wrap(kept)  # a non-leaf is a plain Tensor
        return backward(fn, grad)

    producer.backward, producer.hooked_by = backward_with_hooks, made


class RemovableHook:
    """What register_hook returns: .remove() takes the hook off again."""

    def __init__(self, hooks, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)
