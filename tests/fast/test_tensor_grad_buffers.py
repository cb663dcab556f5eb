"""In fast mode zero_grad(set_to_none=True) keeps a gradient's array for the next backward to write into,
but only when nothing else can see it (tensor/fast/grad_buffers.py): a gradient the program still holds
never changes, and training gives the textbook's numbers to the last bit.

The loss is linear(x).sum(), so the weight's gradient is x summed over rows in each row and the
bias's is the row count: two inputs give two different gradients, and a stale value shows.
"""

import numpy as np
import pytest

import nn
import tensor
from tensor import optim
from tensor.fast.grad_buffers import _COUNTS_EVERY_REFERENCE

exact_counts_only = pytest.mark.skipif(
    not _COUNTS_EVERY_REFERENCE, reason="gradients are kept only where sys.getrefcount counts every reference"
)

X1 = np.arange(12.0).reshape(4, 3)
X2 = -2.0 * X1 + 1.0


def weight_grad(x):
    return np.tile(x.sum(axis=0), (2, 1))  # Linear(3, 2): every output row gets the same column sums


def host(t):
    """A tensor's values as a NumPy array, from either device."""
    return t.detach().cpu().numpy()


def backward_on(layer, x, device):
    layer(tensor.tensor(x, dtype=tensor.float64, device=device)).sum().backward()


def make_layer(device):
    return nn.Linear(3, 2).double().to(device)


@exact_counts_only
@pytest.mark.parametrize("zero_grad", ["optimizer", "module"])
def test_a_gradient_no_one_holds_is_written_into_by_the_next_backward(device, zero_grad):
    layer = make_layer(device)
    clear = optim.SGD(layer.parameters(), lr=0.1).zero_grad if zero_grad == "optimizer" else layer.zero_grad
    backward_on(layer, X1, device)
    clear()
    assert layer.weight.grad is None and layer.bias.grad is None
    kept = layer.weight._spare_grad
    assert kept is not None
    backward_on(layer, X2, device)
    assert layer.weight.grad._array is kept
    np.testing.assert_array_equal(host(layer.weight.grad), weight_grad(X2))
    np.testing.assert_array_equal(host(layer.bias.grad), [4.0, 4.0])
    assert layer.weight._spare_grad is None  # handed over: one array per parameter


HOLDERS = {
    "the grad tensor": lambda p: p.grad,
    "its array": lambda p: p.grad._array,
    "a view of its array": lambda p: p.grad._array[1:],
    "a list holding the tensor": lambda p: [p.grad],
}


@pytest.mark.parametrize("holder", list(HOLDERS))
def test_a_gradient_the_program_holds_keeps_its_values(device, holder):
    layer = make_layer(device)
    optimizer = optim.SGD(layer.parameters(), lr=0.1)
    backward_on(layer, X1, device)
    held = HOLDERS[holder](layer.weight)
    before = host(layer.weight.grad).copy()  # (on the CPU host() is the array itself)
    optimizer.zero_grad()
    assert layer.weight._spare_grad is None
    backward_on(layer, X2, device)
    held_tensor = held[0] if isinstance(held, list) else held
    values = host(held_tensor if isinstance(held_tensor, tensor.Tensor) else tensor.Tensor._wrap(held_tensor))
    np.testing.assert_array_equal(values, before[1:] if holder == "a view of its array" else before)
    np.testing.assert_array_equal(host(layer.weight.grad), weight_grad(X2))


def test_a_kept_array_of_another_shape_or_dtype_is_not_used(device):
    layer = make_layer(device)
    optimizer = optim.SGD(layer.parameters(), lr=0.1)
    backward_on(layer, X1, device)
    optimizer.zero_grad()
    layer.float()  # the parameters are float32 now; the kept float64 arrays must not receive their gradients
    layer(tensor.tensor(X2, dtype=tensor.float32, device=device)).sum().backward()
    assert layer.weight.grad.dtype == tensor.float32 and layer.weight.grad.shape == (2, 3)
    np.testing.assert_allclose(host(layer.weight.grad), weight_grad(X2), rtol=1e-6)
    optimizer.zero_grad()
    layer.weight._array = layer.weight._array[:1].copy()  # one output row now
    (layer.weight * 1.0).sum().backward()
    assert layer.weight.grad.shape == (1, 3)
    np.testing.assert_array_equal(host(layer.weight.grad), np.ones((1, 3)))


@pytest.mark.parametrize("textbook", ["by hand", "reference mode"])
def test_training_with_kept_gradients_matches_fresh_ones(device, kernels, textbook):
    """Ten SGD steps with zero_grad(set_to_none=True) against the same steps with every gradient set to
    None by hand, or with the textbook's zero_grad and accumulation (never kept): the same parameters,
    to the last bit."""

    def train(clear):
        tensor.manual_seed(0)
        layer = make_layer(device)
        optimizer = optim.SGD(layer.parameters(), lr=0.01, momentum=0.9)
        for step in range(10):
            clear(optimizer, layer)
            x = X1 if step % 2 else X2
            (layer(tensor.tensor(x, dtype=tensor.float64, device=device)) ** 2).sum().backward()
            optimizer.step()
        return [host(p) for p in layer.parameters()]

    def by_hand(optimizer, layer):
        for p in layer.parameters():
            p.grad = None

    kept = train(lambda optimizer, layer: optimizer.zero_grad())
    if textbook == "reference mode":
        kernels("reference")
        fresh = train(lambda optimizer, layer: optimizer.zero_grad())
        assert all(p._spare_grad is None for p in make_layer(device).parameters())
    else:
        fresh = train(by_hand)
    for a, b in zip(kept, fresh):
        np.testing.assert_array_equal(a, b)


def test_a_gradient_that_views_another_tensor_is_not_written_into(device):
    """A .grad set by hand to a view: its array looks into memory that another tensor owns."""
    layer = make_layer(device)
    optimizer = optim.SGD(layer.parameters(), lr=0.1)
    owner = tensor.full((4, 3), 7.0, dtype=tensor.float64, device=device)
    layer.weight.grad = owner[1:3]
    optimizer.zero_grad()
    backward_on(layer, X2, device)
    np.testing.assert_array_equal(host(owner), np.full((4, 3), 7.0))
    np.testing.assert_array_equal(host(layer.weight.grad), weight_grad(X2))


def test_in_reference_mode_zero_grad_keeps_no_array(device, kernels):
    kernels("reference")
    layer = make_layer(device)
    backward_on(layer, X1, device)
    layer.zero_grad()
    assert layer.weight.grad is None and layer.weight._spare_grad is None
