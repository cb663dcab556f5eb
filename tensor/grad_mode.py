"""Grad mode: whether ops record a graph for backward. Per thread, as in PyTorch: a no_grad block in one
thread leaves another thread's ops recording."""

import functools
import threading


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
