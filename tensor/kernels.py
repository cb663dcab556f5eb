"""The switch between the textbook and the engine room, and the one seam between them.

tensor/ and nn/ are the textbook: each Function's forward and backward reads as its formula, each
optimizer as its update rule. tensor/fast/ and nn/fast/ are the engine room: devices whose only reason
to exist is speed or memory. An engine-room device is a *stand-in*: it registers itself here as the
replacement of one textbook object (a Function class, an optimizer's step, ...) and is tested equal to it.

    TINYGRAD_GPT_KERNELS=reference   the textbook only: nothing under fast/ runs
    TINYGRAD_GPT_KERNELS=fast        the default: every registered stand-in replaces its textbook object

`stand_in(textbook)` is the seam: the replacement in fast mode, `textbook` itself in reference mode.
Textbook modules never import from fast/; the fast/ packages import this module and register.
The textbook marks where a stand-in may enter, each time with one generic line:

- a Function class needs no mark: `Function.apply` runs `stand_in(cls)` (tensor/ops/matmul.py's Matmul and
  tensor/fast/threads.py's BlasMatmul);
- a plain function or method is decorated `@replaceable`: each call runs `stand_in(that function)`, and the
  stand-in finds the textbook one as `function.__wrapped__` (an optimizer's `_step_group`, a leaf's
  `_accumulate_grad`, `clear_grads`, the backend's `concatenate`, `matmul_on`, `synchronize`, ...);
- a class whose whole job is a device asks for its stand-in when made: tensor.cuda.CUDAGraph() makes
  stand_in(CUDAGraph), and refuses in reference mode.

A stand-in is registered with register_stand_in(textbook, fast, device) by a module under fast/, and tested
equal to the textbook object (tests/fast/).
"""

import contextlib
import functools
import os

MODES = ("reference", "fast")

_registered = {}  # textbook object -> (device name, its stand-in), filled when the fast/ packages are imported
active = {}  # textbook object -> stand-in now in use: every registered one in fast mode, none in reference mode
_mode = "fast"


def register_stand_in(textbook, fast, device):
    """Make `fast` the stand-in of `textbook` in fast mode; `device` names what it is for (benchmarks' ladder)."""
    _registered[textbook] = (device, fast)
    if _mode == "fast":
        active[textbook] = fast


def stand_in(textbook):
    """What runs in place of `textbook` now: its stand-in in fast mode, else `textbook` itself."""
    return active.get(textbook, textbook)


def textbook_name(fn):
    """The name of the textbook Function that `fn` (a Function instance) is or stands in for: what a tensor's
    grad_fn shows, the same in both modes."""
    stands_for = {fast: textbook for textbook, (_, fast) in _registered.items()}
    return stands_for.get(type(fn), type(fn)).__name__


def replaceable(textbook):
    """Mark a textbook function (or method) that the engine room may stand in for: each call runs
    stand_in(the marked function) with the same arguments; `marked.__wrapped__` is the textbook one."""

    def marked(*args, **kwargs):
        return active.get(marked, textbook)(*args, **kwargs)

    return functools.wraps(textbook)(marked)


def devices():
    """The names of the registered engine-room devices, in registration order, without repeats."""
    return list(dict.fromkeys(device for device, _ in _registered.values()))


def set_kernels(mode, only=None):
    """set_kernels("reference") runs the textbook only; set_kernels("fast") every engine-room device.

    `only` (fast mode only), a list of device names, limits the stand-ins to those of the named devices, which is how the
    benchmarks' ladder adds one device at a time."""
    global _mode
    if mode not in MODES:
        raise ValueError(f"kernels must be one of {', '.join(repr(m) for m in MODES)}, got {mode!r}")
    if only is not None and mode != "fast":
        raise ValueError("only= picks engine-room devices: it needs mode 'fast'")
    unknown = sorted(set(only or ()) - set(devices()))
    if unknown:
        raise ValueError(f"unknown engine-room device(s) {unknown}; registered: {devices()}")
    _mode = mode
    active.clear()
    if mode == "fast":
        active.update(
            {textbook: fast for textbook, (device, fast) in _registered.items() if only is None or device in only}
        )


@contextlib.contextmanager
def using(mode, only=None):
    """`with kernels.using("reference"):` runs the block in that mode (and `only` those devices), then puts
    back the mode and the stand-ins in use before, even a partial set."""
    previous_mode, previous_active = _mode, dict(active)
    set_kernels(mode, only)
    try:
        yield
    finally:
        set_kernels(previous_mode)
        active.clear()
        active.update(previous_active)


def get_kernels():
    """The mode now: "reference" or "fast"."""
    return _mode


def _mode_from_environment():
    """TINYGRAD_GPT_KERNELS, read once at import. A value that is not a mode stops the program with one
    line naming the allowed ones, not a traceback through the imports: the mistake is in the environment."""
    mode = os.environ.get("TINYGRAD_GPT_KERNELS", "fast")
    if mode not in MODES:
        allowed = " or ".join(repr(m) for m in MODES)
        raise SystemExit(
            f"error: TINYGRAD_GPT_KERNELS={mode!r} is not a kernels mode: set it to {allowed}, or unset it"
        )
    return mode


_mode = _mode_from_environment()
