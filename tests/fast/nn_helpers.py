"""What the equality tests of nn's engine room share: running a block of code in one kernels mode,
and running an op in both modes (the textbook, then one engine-room device) on cpu or on the CuPy stand-in."""

import numpy as np
import pytest

import tensor
from tensor import kernels

ON_BOTH = pytest.mark.parametrize("where", ["cpu", "stand-in"])


kernels_mode = kernels.using  # the block in one kernels mode, the previous mode put back after


def device_of_test(where, request):
    """ "cpu", or "cuda" on the CuPy stand-in (the fake_cuda fixture, installed for this test)."""
    if where == "cpu":
        return "cpu"
    request.getfixturevalue("fake_cuda")
    return "cuda"


def values_and_gradients(op, arrays, device, seed=0, made_in=None):
    """op(*tensors) and the gradient of each tensor for a random upstream gradient, as NumPy arrays.

    made_in: the module whose Function must have made op's output (which proves which room ran it)."""
    inputs = [tensor.tensor(a, requires_grad=a.dtype.kind == "f", device=device) for a in arrays]
    tensor.manual_seed(seed)  # a dropout draws the same mask in both modes
    out = op(*inputs)
    if made_in is not None:
        assert type(out._ctx).__module__ == made_in, f"{type(out._ctx)} made the output, not {made_in}"
    upstream = np.random.default_rng(seed).standard_normal(out.shape).astype(arrays[0].dtype)
    out.backward(tensor.tensor(upstream, device=device))
    grads = [t.grad.cpu().numpy() if t.grad is not None else None for t in inputs if t.requires_grad]
    return [out.detach().cpu().numpy(), *grads]


def assert_device_equals_textbook(device_name, op, arrays, device, stand_in_module=None, rtol=1e-10, atol=1e-10):
    """op's values and gradients with only `device_name` of the engine room on equal the textbook's.

    stand_in_module: where the Function making op's output lives in fast mode (checked, with
    nn.functional in reference mode), for an op whose output one fused Function makes."""
    with kernels_mode("reference"):
        textbook = values_and_gradients(op, arrays, device, made_in=stand_in_module and "nn.functional")
    with kernels_mode("fast", only=[device_name]):
        fast = values_and_gradients(op, arrays, device, made_in=stand_in_module)
    assert len(textbook) == len(fast)
    for expected, got in zip(textbook, fast):
        if expected is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
