"""The backward engine: graph shapes, accumulation, retain_graph, no_grad, detach."""

import gc
import weakref

import numpy as np
import pytest

import tensor


def leaf(values, device, dtype=tensor.float64):
    return tensor.tensor(values, dtype=dtype, device=device, requires_grad=True)


def test_grad_is_a_tensor_of_the_leafs_shape_and_dtype(device):
    x = leaf([[1.0, 2.0]], device, dtype=tensor.float32)
    (x * 3).sum().backward()
    assert isinstance(x.grad, tensor.Tensor)
    assert x.grad.shape == x.shape and x.grad.dtype == tensor.float32
    assert x.grad.tolist() == [[3.0, 3.0]]


def test_reused_tensor_accumulates_both_uses(device):
    x = leaf([2.0], device)
    (x * x + x).sum().backward()  # d/dx (x^2 + x) = 2x + 1
    assert x.grad.tolist() == [5.0]


def test_reused_intermediate_tensor_accumulates_both_uses(device):
    x = leaf([1.5], device)
    y = x * 2
    (y * y).sum().backward()  # d/dx (2x)^2 = 8x
    assert x.grad.item() == pytest.approx(12.0)


def test_diamond_graph_sums_both_paths(device):
    x = leaf([3.0], device)
    a, b = x * 2, x.exp()
    (a * b).sum().backward()  # d/dx (2x e^x) = 2 e^x + 2x e^x
    expected = 2 * np.exp(3.0) + 6 * np.exp(3.0)
    assert x.grad.item() == pytest.approx(expected)


def test_ten_thousand_op_chain_backpropagates_without_recursion(device):
    x = leaf([1.0], device)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    assert x.grad.item() == pytest.approx(1.0001**10_000)


def test_gradients_accumulate_across_two_backward_calls(device):
    x = leaf([1.0, 2.0], device)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [2 + 3, 4 + 3]


def test_second_backward_through_freed_graph_says_to_retain_it(device):
    x = leaf([1.0], device)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward_with_the_same_result(device):
    x = leaf([0.5], device)
    y = (x.tanh() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.item()
    x.grad = None
    y.backward()
    assert x.grad.item() == pytest.approx(first)


def test_no_grad_context_records_no_graph(device):
    x = leaf([1.0], device)
    with tensor.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert tensor.is_grad_enabled()


def test_no_grad_as_decorator_and_restores_state_after_an_error(device):
    x = leaf([1.0], device)

    @tensor.no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad
    with pytest.raises(ValueError), tensor.no_grad():
        raise ValueError
    assert (x * 2).requires_grad


def test_detach_cuts_the_graph_but_shares_data(device):
    x = leaf([1.0, 2.0], device)
    d = x.detach()
    assert not d.requires_grad and d._array is x._array
    (x * d).sum().backward()  # d is a constant: d/dx (x * c) = c
    assert x.grad.tolist() == [1.0, 2.0]


def test_requires_grad_propagates_only_from_inputs_that_need_it(device):
    a = leaf([1.0], device)
    b = tensor.tensor([2.0], dtype=tensor.float64, device=device)
    assert (a + b).requires_grad
    assert not (b + b).requires_grad
    (a * b).sum().backward()
    assert b.grad is None


def test_only_leaves_get_grad(device):
    x = leaf([1.0], device)
    y = x * 2
    (y * 3).sum().backward()
    assert y.grad is None and x.grad.item() == 6


def test_integer_and_bool_tensors_cannot_require_grad(device):
    with pytest.raises(RuntimeError, match="floating point"):
        tensor.tensor([1, 2], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        tensor.tensor([True], device=device).requires_grad_()


def test_comparisons_return_bool_tensors_outside_the_graph(device):
    x = leaf([1.0, 3.0], device)
    mask = x > 2
    assert mask.dtype == tensor.bool and not mask.requires_grad
    assert mask.tolist() == [False, True]


def test_backward_on_a_non_scalar_without_gradient_names_the_shape(device):
    x = leaf([[1.0, 2.0]], device)
    with pytest.raises(RuntimeError, match=r"scalar output, got shape \(1, 2\)"):
        (x * 2).backward()


def test_backward_with_explicit_gradient_is_a_vector_jacobian_product(device):
    x = leaf([1.0, 2.0], device)
    (x * x).backward(tensor.tensor([10.0, 100.0], dtype=tensor.float64, device=device))
    assert x.grad.tolist() == [20.0, 400.0]


def test_broadcast_gradient_is_summed_back_to_each_input_shape(device):
    row = leaf([[1.0, 2.0, 3.0]], device)  # (1, 3)
    col = leaf([[1.0], [2.0]], device)  # (2, 1)
    (row * col).sum().backward()
    assert row.grad.tolist() == [[3.0, 3.0, 3.0]]
    assert col.grad.tolist() == [[6.0], [6.0]]


def test_cast_passes_the_gradient_back_in_the_leafs_dtype(device):
    x = leaf([1.0, 2.0], device)
    (x.float() * 2).sum().backward()
    assert x.grad.dtype == tensor.float64 and x.grad.tolist() == [2.0, 2.0]


def test_graph_is_freed_after_backward(device):
    x = leaf([1.0], device)
    y = (x * 2).exp()
    fn = y.grad_fn
    y.sum().backward()
    assert fn.parents == () and fn.saved == ()


def test_an_intermediate_that_no_backward_reads_is_freed_during_the_forward(device):
    """The graph keeps the ops and what they saved, not every intermediate tensor (as in PyTorch):
    exp saves its output, not its input, so x * 3 is freed once the program drops it."""
    x = tensor.tensor([0.5, -1.0, 2.0], dtype=tensor.float64, device=device, requires_grad=True)
    middle = x * 3
    freed = weakref.ref(middle._array)
    y = middle.exp()
    del middle
    gc.collect()
    assert freed() is None
    y.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), 3 * np.exp(3 * np.array([0.5, -1.0, 2.0])), rtol=1e-12)


def test_a_registered_stand_in_runs_in_fast_mode_and_the_textbook_op_in_reference_mode():
    from tensor import kernels
    from tensor.ops.elementwise import Exp

    class LoudExp(Exp):
        def forward(self, x):
            return super().forward(x) + 1.0

    previous = kernels.get_kernels()
    kernels.register_stand_in(Exp, LoudExp, "test device")
    try:
        kernels.set_kernels("fast")
        assert tensor.tensor([0.0]).exp().item() == 2.0
        kernels.set_kernels("reference")
        assert tensor.tensor([0.0]).exp().item() == 1.0
        kernels.set_kernels("fast", only=[])
        assert tensor.tensor([0.0]).exp().item() == 1.0
        with pytest.raises(ValueError, match="'reference', 'fast'"):
            kernels.set_kernels("quick")
    finally:
        del kernels._registered[Exp]
        kernels.set_kernels(previous)
