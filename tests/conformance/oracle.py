"""One function, two frameworks: run it with PyTorch and with this project, compare everything.

A case is written once against a namespace `ns` with PyTorch's names: `ns.torch`
(torch or tensor), `ns.nn`, `ns.F`, `ns.optim`. `check(fn, *arrays)` turns the
NumPy inputs into tensors on both sides (floating ones require grad), runs fn,
and compares the outputs' values, dtypes, shapes and devices; then it backpropagates
one random upstream gradient through every floating output and compares the
gradients of every input. `check_raises(fn, *arrays)` asserts that where PyTorch
raises we raise too (a clear error, never a silent result).
"""

from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nn  # noqa: E402
import nn.functional as F  # noqa: E402
import tensor  # noqa: E402

TORCH = SimpleNamespace(name="torch", torch=torch, nn=torch.nn, F=torch.nn.functional, optim=torch.optim)
OURS = SimpleNamespace(name="ours", torch=tensor, nn=nn, F=F, optim=tensor.optim)
SIDES = (TORCH, OURS)

TOLERANCE = {"float64": dict(rtol=1e-7, atol=1e-9), "float32": dict(rtol=2e-4, atol=2e-5)}


def to_side(ns, array, requires_grad=None):
    """A NumPy array (or a number) as a tensor of ns; floating arrays require grad unless told otherwise."""
    if not isinstance(array, np.ndarray):
        return array
    floating = array.dtype.kind == "f"
    t = ns.torch.tensor(array.copy())
    if (floating if requires_grad is None else requires_grad) and floating:
        t.requires_grad_(True)
    return t


def is_tensor(value):
    return isinstance(value, (torch.Tensor, tensor.Tensor))


def as_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return value.detach().cpu().numpy() if value.requires_grad else value.cpu().numpy()


def dtype_name(t):
    return str(t.dtype).split(".")[-1]


def device_name(t):
    return t.device.type if isinstance(t, torch.Tensor) else str(t.device)


def flatten(value):
    """The tensors and plain values of a nested output, in order."""
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in flatten(item)]
    if isinstance(value, dict):
        return [leaf for key in sorted(value) for leaf in flatten(value[key])]
    return [value]


def compare(expected, actual, tolerance, what="output"):
    """Assert that our value equals PyTorch's: type, shape, dtype, device and elements."""
    if is_tensor(expected):
        assert is_tensor(actual), f"{what}: PyTorch gives a tensor, we give {type(actual).__name__}"
        assert tuple(actual.shape) == tuple(expected.shape), f"{what}: shape {actual.shape} != {tuple(expected.shape)}"
        assert dtype_name(actual) == dtype_name(expected), f"{what}: dtype {actual.dtype} != {expected.dtype}"
        assert device_name(actual) == device_name(expected), f"{what}: device {actual.device} != {expected.device}"
        np.testing.assert_allclose(as_numpy(actual), as_numpy(expected), err_msg=what, equal_nan=True, **tolerance)
    elif isinstance(expected, float):
        assert isinstance(actual, float), f"{what}: PyTorch gives a float, we give {type(actual).__name__}"
        np.testing.assert_allclose(actual, expected, err_msg=what, **tolerance)
    else:
        assert type(actual) is type(expected) or expected is None, f"{what}: {type(actual)} != {type(expected)}"
        assert actual == expected, f"{what}: {actual!r} != {expected!r}"


def run(ns, fn, arrays, requires_grad=None):
    inputs = [to_side(ns, a, requires_grad) for a in arrays]
    return inputs, fn(ns, *inputs)


def check(fn, *arrays, grad=True, tolerance=None, seed=0):
    """Run fn on both sides with the same inputs; compare outputs, then the gradients of every input."""
    dtype = next((a.dtype.name for a in arrays if isinstance(a, np.ndarray) and a.dtype.kind == "f"), "float64")
    tolerance = tolerance or TOLERANCE.get(dtype, TOLERANCE["float64"])
    results = {}
    for ns in SIDES:
        results[ns.name] = run(ns, fn, arrays, requires_grad=None if grad else False)
    (torch_inputs, expected), (our_inputs, actual) = results["torch"], results["ours"]
    expected_leaves, actual_leaves = flatten(expected), flatten(actual)
    assert len(actual_leaves) == len(expected_leaves), (
        f"{len(actual_leaves)} outputs, PyTorch gives {len(expected_leaves)}"
    )
    for i, (e, a) in enumerate(zip(expected_leaves, actual_leaves)):
        compare(e, a, tolerance, what=f"output {i}")
        if is_tensor(e):
            assert bool(a.requires_grad) == bool(e.requires_grad), f"output {i}: requires_grad {a.requires_grad}"
    if not grad:
        return
    differentiable = [(e, a) for e, a in zip(expected_leaves, actual_leaves) if is_tensor(e) and e.requires_grad]
    if not differentiable:
        return
    rng = np.random.default_rng(seed)
    upstream = [rng.standard_normal(e.shape).astype(dtype_name(e)) for e, _ in differentiable]
    torch.autograd.backward([e for e, _ in differentiable], [torch.tensor(u) for u in upstream])
    our_total = sum((a * tensor.tensor(u)).sum() for (_, a), u in zip(differentiable, upstream))
    our_total.backward()
    for i, (t, o) in enumerate(zip(torch_inputs, our_inputs)):
        if is_tensor(t) and t.requires_grad:
            if t.grad is None:
                assert o.grad is None or not as_numpy(o.grad).any(), f"input {i}: PyTorch has no gradient, we do"
            else:
                assert o.grad is not None, f"input {i}: PyTorch has a gradient, we have none"
                compare(t.grad, o.grad, tolerance, what=f"gradient of input {i}")


def check_raises(fn, *arrays):
    """Where PyTorch raises on this input, we raise too (any exception: never a silent result)."""
    with pytest.raises(Exception) as torch_error:  # noqa: B017, PT011
        run(TORCH, fn, arrays)
    with pytest.raises(Exception) as our_error:  # noqa: B017, PT011
        run(OURS, fn, arrays)
    return torch_error.value, our_error.value


def random_array(rng, shape, dtype="float64", low=-2.0, high=2.0, distinct=False):
    """Uniform floats in [low, high) (distinct ones when ties would make max/topk ambiguous)."""
    if distinct:
        n = int(np.prod(shape))
        values = np.linspace(low, high, n + 2)[1:-1] if n else np.zeros(0)
        return rng.permutation(values).reshape(shape).astype(dtype)
    return rng.uniform(low, high, size=shape).astype(dtype)
