"""Run a program line by line on two sides and compare every variable after every line.

A program is a list of Python source lines (`v2 = v0.std(-1, False)`, `with torch.no_grad(): v1.add_(2)`)
that name PyTorch's API: `torch`, `F` (torch.nn.functional), `nn`, `optim`. Each side executes it in
its own namespace, where those names are PyTorch's or ours. After every line the tensors each side
holds are compared: values (NaN and inf at the same places), dtype, shape, requires_grad, is_leaf,
and .grad (None on both, or equal). Outcomes of a line:
  - both run: compare; a difference is a divergence;
  - PyTorch raises, we return: a divergence (a silent result where PyTorch refuses);
  - we raise, PyTorch returns: a gap (a clear refusal), not a divergence; the program stops;
  - both raise: the program stops there (what follows would start from half-done states).
"""

import math
import warnings
from types import SimpleNamespace

import numpy as np
import torch

import nn
import nn.functional as F
import tensor

TORCH = SimpleNamespace(
    name="torch", modules={"torch": torch, "F": torch.nn.functional, "nn": torch.nn, "optim": torch.optim}
)
OURS = SimpleNamespace(name="ours", modules={"torch": tensor, "F": F, "nn": nn, "optim": tensor.optim})

# Issue 31's tolerances: float64 throughout, or float32 anywhere in the program.
TOLERANCE_FLOAT64 = dict(rtol=1e-7, atol=1e-9)
TOLERANCE_FLOAT32 = dict(rtol=1e-4, atol=1e-5)


class Divergence(AssertionError):
    """PyTorch and this project disagree on a line: the program up to that line, and what differs."""

    def __init__(self, lines, what):
        self.lines, self.what = list(lines), what
        listing = "\n".join(f"    {line}" for line in self.lines)
        super().__init__(f"divergence from PyTorch after the last line of:\n{listing}\n  {what}")


class Session:
    """One program in progress on two sides (ours can be PyTorch again: the harness's self-test)."""

    def __init__(self, expected=TORCH, actual=OURS):
        self.sides = (expected, actual)
        self.namespaces = tuple(dict(side.modules) for side in self.sides)
        self.lines, self.gap, self.stopped, self.float32, self.rounding = [], None, False, False, None

    @property
    def expected(self):
        """PyTorch's namespace: the program generator reads the state from it."""
        return self.namespaces[0]

    def run(self, line):
        """Run one line on both sides and compare; raise Divergence, or note a gap and stop."""
        self.lines.append(line)
        expected_error, actual_error = (_execute(line, namespace) for namespace in self.namespaces)
        if expected_error and actual_error:
            self.stopped = True
        elif expected_error:
            raise Divergence(
                self.lines, f"PyTorch raises {type(expected_error).__name__}: {expected_error}; we return a value"
            )
        elif actual_error:
            self.gap, self.stopped = f"{type(actual_error).__name__}: {actual_error}", True
        else:
            self.compare()

    def compare(self):
        expected, actual = self.namespaces
        names = [name for name in expected if name not in self.sides[0].modules and not name.startswith("__")]
        self.float32 = self.float32 or any(_has_float32(expected[name]) for name in names)
        tolerance = TOLERANCE_FLOAT32 if self.float32 else TOLERANCE_FLOAT64
        for name in names:
            if name not in actual:
                raise Divergence(self.lines, f"{name}: PyTorch defines it, we do not")
            problem = compare_values(expected[name], actual[name], tolerance)
            if problem and self.float32 and "values differ" in problem and self._agrees_in_float64():
                self.rounding, self.stopped = f"{name}: {problem}", True
                return
            if problem:
                raise Divergence(self.lines, f"{name}: {problem}")

    def _agrees_in_float64(self):
        """Whether the program, float32 made float64, runs without a divergence: then a float32 difference
        is rounding (PyTorch's float32 var and ours differ in the last bit) made large by a step function
        (//, %, a comparison, argmax), not a bug. The program stops there."""
        lines = [line.replace("float32", "float64").replace(".float()", ".double()") for line in self.lines]
        try:
            run_program(lines, *self.sides)
        except Divergence:
            return False
        return True


def run_program(lines, expected=TORCH, actual=OURS):
    """Run a whole program (stopping where it stops); raise Divergence at the first one. Returns the Session."""
    session = Session(expected, actual)
    for line in lines:
        session.run(line)
        if session.stopped:
            break
    return session


def minimize(lines, expected=TORCH, actual=OURS):
    """The program with every line dropped whose removal keeps a divergence (the last line stays)."""
    kept = list(lines)
    for i in reversed(range(len(kept) - 1)):
        candidate = kept[:i] + kept[i + 1 :]
        try:
            run_program(candidate, expected, actual)
        except Divergence:
            kept = candidate
    return kept


def _execute(line, namespace):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with np.errstate(all="ignore"):
                exec(line, namespace)  # noqa: S102 - the program is ours, drawn by the fuzzer
        except Exception as error:  # noqa: BLE001 - any exception is the side's answer
            return error
    return None


def is_tensor(value):
    return isinstance(value, (torch.Tensor, tensor.Tensor))


def _has_float32(value):
    if is_tensor(value):
        return str(value.dtype).endswith("float32")
    if isinstance(value, (tuple, list)):
        return any(_has_float32(item) for item in value)
    return False


def _array(t):
    return t.detach().cpu().numpy()


def compare_values(expected, actual, tolerance):
    """What differs between PyTorch's value and ours (None when they agree)."""
    if is_tensor(expected):
        return compare_tensors(expected, actual, tolerance)
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            return f"PyTorch gives a sequence of {len(expected)}, we give {_describe(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            problem = compare_values(e, a, tolerance)
            if problem:
                return f"[{i}] {problem}"
        return None
    if isinstance(expected, (bool, int, float)):
        if type(actual) is not type(expected):
            return f"PyTorch gives {type(expected).__name__} {expected!r}, we give {_describe(actual)}"
        if isinstance(expected, float) and (math.isnan(expected) or math.isnan(actual)):
            return None if math.isnan(expected) and math.isnan(actual) else f"{actual!r} != PyTorch's {expected!r}"
        if expected != actual and not (
            isinstance(expected, float)
            and math.isclose(expected, actual, rel_tol=tolerance["rtol"], abs_tol=tolerance["atol"])
        ):
            return f"{actual!r} != PyTorch's {expected!r}"
    return None  # optimizers, schedulers, modules: compared through the tensors they change


def compare_tensors(expected, actual, tolerance):
    if not is_tensor(actual):
        return f"PyTorch gives a tensor, we give {_describe(actual)}"
    if tuple(actual.shape) != tuple(expected.shape):
        return f"shape {tuple(actual.shape)} != PyTorch's {tuple(expected.shape)}"
    expected_dtype, actual_dtype = str(expected.dtype).split(".")[-1], str(actual.dtype).split(".")[-1]
    if actual_dtype != expected_dtype:
        return f"dtype {actual_dtype} != PyTorch's {expected_dtype}"
    try:
        flags = [(name, getattr(expected, name)) for name in ("requires_grad", "is_leaf")]
        expected_grad = expected.grad if expected.is_leaf else None
    except RuntimeError:  # PyTorch refuses to say (a no_grad view changed in place): nothing to compare
        flags, expected_grad = [], None
    for name, value in flags:
        if bool(getattr(actual, name)) != bool(value):
            return f"{name} {getattr(actual, name)} != PyTorch's {value}"
    problem = compare_arrays(_array(expected), _array(actual), tolerance)
    if problem:
        return f"values differ: {problem}"
    if flags and expected.is_leaf:
        if (expected_grad is None) != (actual.grad is None):
            return f".grad is {'None' if actual.grad is None else 'set'}, PyTorch's is {'None' if expected_grad is None else 'set'}"
        if expected_grad is not None:
            problem = compare_arrays(_array(expected_grad), _array(actual.grad), tolerance)
            if problem:
                return f".grad differs: {problem}"
    return None


def compare_arrays(expected, actual, tolerance):
    if expected.dtype.kind != "f":
        return None if np.array_equal(expected, actual) else f"{actual.tolist()} != PyTorch's {expected.tolist()}"
    try:
        np.testing.assert_allclose(actual, expected, equal_nan=True, **tolerance)
    except AssertionError:
        return f"{actual.tolist()} != PyTorch's {expected.tolist()}"
    return None


def _describe(value):
    return f"{type(value).__name__} {value!r}"[:200]
