"""In-place ops in the graph are recorded by autograd (issue 29), as PyTorch records them: the tensor
keeps its memory and takes the write as its history; `.data` and retain_grad / register_hook."""

import gc
import weakref

import numpy as np
import pytest

import tensor

IN_PLACE_ERROR = "modified by an inplace operation"


def leaf(values):
    return tensor.tensor(values, dtype=tensor.float64, requires_grad=True)


# name: (the write on h = 2a, d(sum(h after the write))/da at a = [1, 2, 3])
WRITES = {
    "+=": (lambda h, a: h.__iadd__(a), [3.0, 3.0, 3.0]),
    "-=": (lambda h, a: h.__isub__(a * a), [0.0, -2.0, -4.0]),
    "*=": (lambda h, a: h.__imul__(a), [4 * 1.0, 4 * 2.0, 4 * 3.0]),
    "/=": (lambda h, a: h.__itruediv__(4.0), [0.5, 0.5, 0.5]),
    "add_ alpha": (lambda h, a: h.add_(a, alpha=3), [5.0, 5.0, 5.0]),
    "sub_": (lambda h, a: h.sub_(1.0), [2.0, 2.0, 2.0]),
    "mul_": (lambda h, a: h.mul_(3.0), [6.0, 6.0, 6.0]),
    "div_": (lambda h, a: h.div_(a), [0.0, 0.0, 0.0]),
    "pow_": (lambda h, a: h.pow_(2), [8.0, 16.0, 24.0]),
    "clamp_": (lambda h, a: h.clamp_(min=3.0, max=5.0), [0.0, 2.0, 0.0]),
    "zero_": (lambda h, a: h.zero_(), [0.0, 0.0, 0.0]),
    "fill_ tensor": (lambda h, a: h.fill_(a[1]), [0.0, 3.0, 0.0]),
    "copy_": (lambda h, a: h.copy_(a * a), [2.0, 4.0, 6.0]),
    "masked_fill_": (lambda h, a: h.masked_fill_(tensor.tensor([True, False, False]), 0.0), [0.0, 2.0, 2.0]),
    "normal_": (lambda h, a: h.normal_(), [0.0, 0.0, 0.0]),
    "setitem": (lambda h, a: h.__setitem__(slice(1, None), a[0] * 10), [2.0 + 20.0, 0.0, 0.0]),
}


@pytest.mark.parametrize("name", sorted(WRITES))
def test_a_write_into_a_non_leaf_is_recorded_and_backward_goes_through_it(name):
    write, expected = WRITES[name]
    a = leaf([1.0, 2.0, 3.0])
    h = a * 2
    memory, version = h._array, h._version
    assert write(h, a) is not None or name == "setitem"
    assert h._array is memory and h._version > version and h.requires_grad and not h.is_leaf
    h.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), expected)


def test_a_write_into_a_leaf_that_requires_grad_is_refused_with_pytorchs_message():
    a = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"^a leaf Variable that requires grad is being used in an in-place"):
        a += 1
    with pytest.raises(RuntimeError, match=r"^a view of a leaf Variable that requires grad is being used"):
        a[0].mul_(2)
    with pytest.raises(RuntimeError, match=r"^a view of a leaf Variable that requires grad is being used"):
        a[1:] += 1
    assert a.tolist() == [1.0, 2.0] and a._version == 0


def test_an_element_picked_by_an_int_index_is_a_view_as_in_pytorch():
    x = tensor.zeros(3)
    x[0].add_(1)
    assert x.tolist() == [1.0, 0.0, 0.0] and x[1]._version_counter is x._version_counter


def test_a_saved_tensor_written_after_use_still_makes_backward_raise():
    a = leaf([1.0, 2.0])
    h = a * 2
    y = h * h  # Mul saves h
    h += 1
    with pytest.raises(RuntimeError, match=IN_PLACE_ERROR + r".*saved by Mul"):
        y.sum().backward()


def test_a_plain_tensor_written_with_a_value_in_the_graph_joins_the_graph():
    """makemore part 4's `dC[ix] += demb[k, j]` into a zeros tensor."""
    demb = leaf([[1.0, 2.0], [3.0, 4.0]]) * 1
    dC = tensor.zeros(3, 2, dtype=tensor.float64)
    for k, ix in enumerate([2, 2]):
        dC[tensor.tensor(ix)] += demb[k]
    assert dC.tolist() == [[0, 0], [0, 0], [4.0, 6.0]] and dC.requires_grad
    weights = tensor.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=tensor.float64)
    (dC * weights).sum().backward()
    # each demb row went into dC's last row, whose weights are [5, 6]
    assert demb.grad is None  # a non-leaf keeps no gradient...


def test_setitem_with_advanced_indices_and_a_scalar_into_a_non_leaf():
    """makemore part 4: dlogits = softmax(logits); dlogits[range(n), Yb] -= 1; dlogits /= n."""
    logits = leaf([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]])
    d = logits.softmax(1)
    d[range(2), [2, 0]] -= 1
    d /= 2
    expected = (
        np.exp([[1, 2, 3], [0.5] * 3]) / np.exp([[1, 2, 3], [0.5] * 3]).sum(1, keepdims=True) - [[0, 0, 1], [1, 0, 0]]
    ) / 2
    np.testing.assert_allclose(d.detach().numpy(), expected)
    with pytest.raises(RuntimeError, match=IN_PLACE_ERROR):  # softmax saved d: PyTorch refuses too
        (d * d).sum().backward()


def test_writing_into_a_view_made_by_indexing_updates_the_bases_history():
    a = leaf([1.0, 2.0, 3.0])
    x = tensor.zeros(2, 3, dtype=tensor.float64)
    x[0].add_(a)  # through a view: x must learn of it (CopySlices)
    x[1, 1:] = a[:2] * 3
    (x * tensor.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=tensor.float64)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [1.0 + 15.0, 2.0 + 18.0, 3.0])


def test_x_index_plus_equals_records_one_write_per_statement():
    a = leaf([1.0, 2.0])
    x = tensor.ones(2, 2, dtype=tensor.float64)
    version = x._version
    x[0] += a
    assert x._version == version + 2 and x.tolist() == [[2.0, 3.0], [1.0, 1.0]]
    x.sum().backward()
    assert a.grad.tolist() == [1.0, 1.0]


def test_a_write_that_would_change_the_shape_or_dtype_is_an_error():
    h = leaf([1.0, 2.0]) * 1
    with pytest.raises(RuntimeError, match=r"output with shape \[2\] doesn't match the broadcast shape \[2, 2\]"):
        h.add_(tensor.ones(2, 2, dtype=tensor.float64))
    n = tensor.tensor([1, 2])
    with pytest.raises(RuntimeError, match=r"result type \S*float64 can.t be cast to the desired output type \S*int64"):
        n.add_(leaf([0.5, 0.5]))


# ----- .data ------------------------------------------------------------------------------------------


def test_data_is_a_tensor_sharing_storage_outside_autograd():
    p = leaf([1.0, 2.0])
    d = p.data
    assert isinstance(d, tensor.Tensor) and not d.requires_grad and d.grad_fn is None and d._array is p._array
    p.grad = tensor.tensor([1.0, 1.0], dtype=tensor.float64)
    p.data += -0.1 * p.grad  # the course's update line, in grad mode
    assert p.tolist() == [0.9, 1.9] and p.requires_grad and p.is_leaf


def test_assigning_data_swaps_the_storage():
    p = leaf([1.0, 2.0])
    p.data = tensor.tensor([5.0, 6.0, 7.0], dtype=tensor.float64)
    assert p.tolist() == [5.0, 6.0, 7.0] and p.requires_grad
    with pytest.raises(TypeError, match="data must be set to a Tensor, got list"):
        p.data = [1.0]


# ----- retain_grad and hooks ---------------------------------------------------------------------------


def test_retain_grad_keeps_a_non_leafs_gradient_even_when_called_after_the_forward():
    a = leaf([1.0, 2.0])
    h = a * 3
    y = (h * h).sum()
    assert not h.retains_grad
    h.retain_grad()
    y.backward()
    assert h.retains_grad and h.grad.tolist() == [6.0, 12.0] and a.grad.tolist() == [18.0, 36.0]


def test_retain_grad_accumulates_over_backwards_and_refuses_a_tensor_without_grad():
    a = leaf([1.0])
    h = a * 2
    h.retain_grad()
    h.sum().backward(retain_graph=True)
    h.sum().backward()
    assert h.grad.tolist() == [2.0]
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad=False"):
        tensor.ones(2).retain_grad()


def test_retain_grad_keeps_nothing_alive_once_the_graph_is_dropped():
    """The hook is no reference cycle: the Function goes when its tensors go, without the garbage collector."""
    gc.disable()
    try:
        h = leaf([1.0, 2.0]) * 2
        h.retain_grad()
        h.register_hook(lambda g: None)
        made_by = weakref.ref(h.grad_fn)
        (h * h).sum().backward()
        del h
        assert made_by() is None
    finally:
        gc.enable()


def test_register_hook_sees_and_may_replace_the_gradient():
    a = leaf([1.0, 2.0])
    h = a * 3
    seen = []
    h.register_hook(lambda g: seen.append(g.tolist()))
    handle = h.register_hook(lambda g: g * 10)
    h.sum().backward()
    assert seen == [[1.0, 1.0]] and a.grad.tolist() == [30.0, 30.0]
    handle.remove()
    a.grad = None
    b = leaf([1.0, 2.0])
    b.register_hook(lambda g: g * 2)
    (b * 5).sum().backward()
    assert b.grad.tolist() == [10.0, 10.0]


# ----- on each device (the CuPy stand-in runs the "cuda" case on CI) -----------------------------------------


def test_recorded_writes_and_course_ops_run_on_each_device(device):
    a = tensor.tensor([1.0, 2.0, 3.0], dtype=tensor.float64, device=device, requires_grad=True)
    h = a * 2
    h.masked_fill_(tensor.tensor([True, False, False], device=device), 0.0)
    h[[1, 2]] += a[:2]
    out = h.cumsum(0).sum() + tensor.roll(h, 1).logsumexp(0) + h.sort(0).values[0] + h.flip(0)[0]
    out.backward()
    assert h.device == device and a.grad.device == device
    expected = tensor.tensor([1.0, 2.0, 3.0], dtype=tensor.float64, requires_grad=True)
    e = expected * 2
    e.masked_fill_(tensor.tensor([True, False, False]), 0.0)
    e[[1, 2]] += expected[:2]
    (e.cumsum(0).sum() + tensor.roll(e, 1).logsumexp(0) + e.sort(0).values[0] + e.flip(0)[0]).backward()
    np.testing.assert_allclose(a.grad.cpu().numpy(), expected.grad.numpy())
    drawn = tensor.zeros(4, device=device).normal_(generator=tensor.Generator(device).manual_seed(1))
    again = tensor.zeros(4, device=device).uniform_(generator=tensor.Generator(device).manual_seed(1))
    assert drawn.device == device and again.device == device
