"""In-place writes and version counters: a write into a tensor that backward saved is an
error at backward (as in PyTorch), never a gradient computed from the changed values."""

import numpy as np
import pytest

import tensor

IN_PLACE_ERROR = "modified by an inplace operation"

# name: (the write, returning the tensor; the same write on a NumPy array)
WRITES = {
    "zero_": (lambda t: t.zero_(), lambda a: a * 0),
    "fill_": (lambda t: t.fill_(2.5), lambda a: np.full_like(a, 2.5)),
    "add_": (lambda t: t.add_(tensor.tensor([1.0, 2.0, 3.0], dtype=t.dtype, device=t.device)), lambda a: a + [1, 2, 3]),
    "add_ alpha": (lambda t: t.add_(2.0, alpha=3), lambda a: a + 6),
    "sub_": (lambda t: t.sub_(1.5), lambda a: a - 1.5),
    "mul_": (lambda t: t.mul_(3.0), lambda a: a * 3),
    "div_": (lambda t: t.div_(4.0), lambda a: a / 4),
    "clamp_": (lambda t: t.clamp_(min=-0.5, max=0.5), lambda a: np.clip(a, -0.5, 0.5)),
    "copy_": (lambda t: t.copy_(tensor.tensor([7.0, 8.0, 9.0], dtype=t.dtype)), lambda a: np.array([7.0, 8.0, 9.0])),
    "setitem": (lambda t: set_first_two(t, 5.0), lambda a: np.array([5.0, 5.0, a[2]])),
    "+=": (lambda t: t.__iadd__(1.0), lambda a: a + 1),
    "-=": (lambda t: t.__isub__(1.0), lambda a: a - 1),
    "*=": (lambda t: t.__imul__(2.0), lambda a: a * 2),
    "/=": (lambda t: t.__itruediv__(2.0), lambda a: a / 2),
}


def set_first_two(t, value):
    t[:2] = value
    return t


def leaf(values, device, dtype=tensor.float64):
    return tensor.tensor(values, dtype=dtype, device=device, requires_grad=True)


@pytest.mark.parametrize("name", sorted(WRITES))
def test_every_in_place_write_changes_the_values_in_place_and_bumps_the_version(name, device):
    write, numpy_write = WRITES[name]
    t = tensor.tensor([-1.0, 0.25, 2.0], dtype=tensor.float64, device=device)
    expected, data, version = numpy_write(np.array([-1.0, 0.25, 2.0])), t._array, t._version
    assert write(t) is t
    assert t._array is data and t._version == version + 1
    np.testing.assert_allclose(t.tolist(), expected)


@pytest.mark.parametrize("name", sorted(WRITES))
def test_every_in_place_write_into_a_saved_tensor_makes_backward_raise(name, device):
    write, _ = WRITES[name]
    a = leaf([1.0, 2.0, 3.0], device)
    w = tensor.tensor([4.0, 5.0, 6.0], dtype=tensor.float64, device=device)
    loss = (a * w).sum()
    write(w)
    with pytest.raises(RuntimeError, match=IN_PLACE_ERROR + r".*version 1; expected version 0 \(saved by Mul"):
        loss.backward()


def test_the_issue_example_no_longer_gives_a_wrong_gradient(device):
    a = leaf([1.0, 2.0, 3.0], device)
    w = tensor.tensor([4.0, 5.0, 6.0], dtype=tensor.float64, device=device)
    loss = (a * w).sum()
    w[0] = 100
    with pytest.raises(RuntimeError, match=r"\[\(3,\) float64\] is at version 1; expected version 0"):
        loss.backward()
    assert a.grad is None


def test_a_write_into_a_saved_output_under_no_grad_makes_backward_raise(device):
    a = leaf([0.5, 1.0], device)
    b = a.exp()  # Exp saves its output
    with tensor.no_grad():
        b.mul_(2)
    with pytest.raises(RuntimeError, match=IN_PLACE_ERROR + r".*saved by Exp as its output"):
        b.sum().backward()


def test_a_write_through_a_view_is_seen_by_the_saved_base(device):
    a = leaf([1.0, 2.0, 3.0, 4.0], device)
    w = tensor.tensor([1.0, 1.0, 1.0, 1.0], dtype=tensor.float64, device=device)
    loss = (a * w).sum()
    w.view(2, 2)[1, 0] = 9.0
    with pytest.raises(RuntimeError, match=IN_PLACE_ERROR):
        loss.backward()


@pytest.mark.parametrize(
    "make_view",
    [
        lambda t: t.view(3, 2),
        lambda t: t.reshape(6),
        lambda t: t.T,
        lambda t: t.permute(1, 0),
        lambda t: t[1],
        lambda t: t[:, ::2],
        lambda t: t[None],
        lambda t: t.detach(),
        lambda t: t.contiguous(),
    ],
)
def test_views_share_their_bases_version_counter(make_view, device):
    base = tensor.zeros(2, 3, dtype=tensor.float64, device=device)
    view = make_view(base)
    base.add_(1.0)
    assert view._version == base._version == 1
    view.mul_(2.0)
    assert base._version == 2 and base.tolist()[1][0] == 2.0


def test_an_expanded_view_shares_the_counter_and_refuses_the_writes_pytorch_refuses(device):
    """Several of its elements are one memory location. As in PyTorch, arithmetic, copy_, fill_ with a
    tensor and a write into a part holding a location twice are refused before writing (NumPy would write
    in some order, CuPy would race); a fill with one number, masked_fill_ and a write into a part holding
    each location once go into the shared memory."""
    base = tensor.zeros(2, 3, dtype=tensor.float64, device=device)
    view = base[:1].expand(4, 3)
    base.add_(1.0)
    assert view._version == base._version == 1
    refused = (
        lambda: view.mul_(2.0),
        lambda: view.copy_(tensor.ones(4, 3, dtype=tensor.float64, device=device)),
        lambda: view.fill_(tensor.tensor(0.0, dtype=tensor.float64, device=device)),
        lambda: view.__setitem__((slice(None), 0), 5.0),
    )
    for write in refused:
        with pytest.raises(RuntimeError, match=r"expanded tensor of shape \((4, 3|4,)\).*single memory location"):
            write()
    assert base._version == 1 and base.tolist() == [[1.0] * 3] * 2
    if device != "cpu":  # the CuPy stand-in keeps NumPy's read-only broadcast views (tests/support/fake_cupy.py)
        return
    view.fill_(2.0)
    assert base.tolist() == [[2.0] * 3, [1.0] * 3] and view.tolist() == [[2.0] * 3] * 4
    view[1] = tensor.tensor([3.0, 4.0, 5.0], dtype=tensor.float64, device=device)
    view.masked_fill_(tensor.tensor([False, True, False], device=device), 0.0)
    assert base.tolist() == [[3.0, 0.0, 5.0], [1.0] * 3] and base._version == 4


@pytest.mark.parametrize(
    "make_copy",
    [lambda t: t.clone(), lambda t: t[[0, 1]], lambda t: t[t > 0], lambda t: t.T.contiguous(), lambda t: t + 0],
)
def test_copies_have_their_own_version_counter(make_copy, device):
    base = tensor.ones(2, 3, dtype=tensor.float64, device=device)
    copy = make_copy(base)
    base.add_(1.0)
    assert base._version == 1 and copy._version == 0


def test_a_write_to_a_tensor_that_backward_does_not_need_is_allowed(device):
    a = leaf([1.0, 2.0], device)
    h = a * 2  # Mul saves a and the scalar, not h
    y = h + 1  # Add saves nothing
    with tensor.no_grad():
        h.add_(10.0)
        y.zero_()
    y.sum().backward()
    assert a.grad.tolist() == [2.0, 2.0]


def test_in_place_write_into_a_leaf_that_requires_grad_is_an_error_outside_no_grad(device):
    w = leaf([1.0, 2.0], device)
    for write in (lambda: w.mul_(2), lambda: w.__setitem__(0, 1.0), lambda: w.zero_(), lambda: w.__iadd__(1)):
        with pytest.raises(
            RuntimeError, match=r"^a leaf Variable that requires grad is being used in an in-place.*\(2,\)"
        ):
            write()
    assert w.tolist() == [1.0, 2.0] and w._version == 0
    with tensor.no_grad():
        w.sub_(1.0)  # as an optimizer step does
    assert w.tolist() == [0.0, 1.0] and w._version == 1


def test_in_place_write_into_a_non_leaf_in_the_graph_is_recorded(device):
    """As PyTorch: h takes the write as its history (more in test_in_place_recorded.py)."""
    a = leaf([1.0, 2.0], device)
    h = a * 2
    h.add_(1.0)
    assert h.grad_fn is not None and h.tolist() == [3.0, 5.0]
    h.sum().backward()
    assert a.grad.tolist() == [2.0, 2.0]


def test_writing_a_value_that_requires_grad_into_a_plain_tensor_is_recorded(device):
    """PyTorch records the copy: the buffer joins the graph, and the gradient reaches w."""
    w = leaf([3.0, 4.0], device)
    buffer = tensor.zeros(2, dtype=tensor.float64, device=device)
    buffer[0] = w[1] * 2
    assert buffer.requires_grad and buffer.tolist() == [8.0, 0.0]
    other = tensor.zeros(2, dtype=tensor.float64, device=device)
    other.copy_(w)
    (buffer.sum() + other.sum()).backward()
    assert w.grad.tolist() == [1.0, 3.0]


def test_in_place_write_of_a_float_into_an_int_tensor_is_an_error(device):
    t = tensor.tensor([1, 2], device=device)
    with pytest.raises(RuntimeError, match=r"shape \(2,\) and dtype int64"):
        t.add_(0.5)
    assert t.tolist() == [1, 2] and t._version == 0


def test_in_place_write_of_a_value_that_does_not_broadcast_names_both_shapes(device):
    t = tensor.zeros(2, 3, device=device)
    with pytest.raises(RuntimeError, match=r"\(3, 1\).*shape \(2, 3\)"):
        t.mul_(tensor.ones(3, 1, device=device))


def test_a_write_into_an_index_tensor_after_forward_does_not_move_the_gradient(device):
    x = leaf([1.0, 2.0, 3.0], device)
    index = tensor.tensor([0, 0], device=device)
    y = x[index]
    index[1] = 2
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 0.0]


def test_a_write_into_a_mask_after_masked_fill_makes_backward_raise(device):
    x = leaf([1.0, 2.0, 3.0], device)
    mask = tensor.tensor([True, False, False], device=device)
    y = x.masked_fill(mask, 0.0)
    mask[1] = True
    with pytest.raises(RuntimeError, match=IN_PLACE_ERROR + r".*saved by (Fast)?Where as its input 2"):
        y.sum().backward()


def test_setitem_copies_a_value_from_another_device(device):
    if device == "cpu":
        pytest.skip("needs a second device")
    t = tensor.zeros(3, device=device)
    t[1:] = tensor.tensor([4.0, 5.0])  # a cpu value, as PyTorch allows
    t.copy_(t + tensor.ones(3, device=device))
    assert t.device == device and t.tolist() == [1.0, 5.0, 6.0]


def test_a_refused_backward_leaves_no_gradient_behind_in_a_retained_graph():
    """Backward from c reaches b's Add before it refuses the Mul: the next backward must not add that in."""
    a = tensor.zeros(3, dtype=tensor.float64, requires_grad=True)
    b = a + a
    c = (b * b) + b
    with tensor.no_grad():
        b.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.backward(tensor.ones(3, dtype=tensor.float64), retain_graph=True)
    a.grad = None
    (b + b).backward(tensor.ones(3, dtype=tensor.float64))
    np.testing.assert_array_equal(a.grad.numpy(), [4.0, 4.0, 4.0])
