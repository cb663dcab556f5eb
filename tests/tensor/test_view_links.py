"""Every view op links its result to its base (tensor/in_place.py): a write through any view of a leaf that
requires grad is refused, a recorded write through a view of a non-leaf becomes the base's history too
(SetItem over the view's region, PyTorch's CopySlices), and a view made under no_grad follows its base's
requires_grad. PyTorch's own answers are in tests/conformance/test_fuzz_regressions.py."""

import numpy as np
import pytest

import tensor
from tensor.in_place import view_of

VIEWS = {
    "view": lambda x: x.view(3, 2),
    "reshape": lambda x: x.reshape(-1),
    "permute": lambda x: x.permute(1, 0),
    "T": lambda x: x.T,
    "unsqueeze": lambda x: x.unsqueeze(0),
    "squeeze": lambda x: x.squeeze(),
    "expand": lambda x: x.expand(2, 3),
    "slice": lambda x: x[:, 1:],
    "row": lambda x: x[1],
}


def leaf():
    return tensor.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=tensor.float64, requires_grad=True)


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_a_view_links_to_its_base_and_its_region_replays_it_on_any_array_of_the_base_s_shape(name):
    x = leaf()
    v = VIEWS[name](x)
    base, op, params = v._view_of
    assert base is x
    other = np.arange(6.0).reshape(2, 3)
    region = view_of(np, other, (op, params))
    np.testing.assert_array_equal(region, VIEWS[name](tensor.tensor(other)).numpy())
    assert np.shares_memory(region, other)  # a view into the array, so a write into it lands there


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_a_write_through_any_view_of_a_leaf_that_requires_grad_is_refused(name):
    x = leaf()
    with pytest.raises(RuntimeError, match="^a view of a leaf Variable that requires grad"):
        VIEWS[name](x).mul_(2.0)
    assert x._version == 0 and x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def test_a_write_through_a_transposed_view_of_a_non_leaf_becomes_the_base_s_history():
    x, w = leaf(), tensor.tensor([10.0, 20.0], dtype=tensor.float64, requires_grad=True)
    h = x * 1
    h.T[1:].mul_(w)  # h[:, 1:] *= w[:, None]: h = [[1, 20, 30], [4, 100, 120]]
    assert h.tolist() == [[1.0, 20.0, 30.0], [4.0, 100.0, 120.0]]
    (h * h).sum().backward()  # d/dx = 2 h * (1, or w where written);  d/dw_i = sum over row i of 2 h x
    np.testing.assert_allclose(x.grad.numpy(), [[2.0, 400.0, 600.0], [8.0, 4000.0, 4800.0]])
    np.testing.assert_allclose(w.grad.numpy(), [2 * (20 * 2 + 30 * 3), 2 * (100 * 5 + 120 * 6)])


def test_a_write_replacing_a_view_s_values_cuts_the_base_s_old_values_out_of_the_gradient():
    x, w = leaf(), tensor.tensor(3.0, dtype=tensor.float64, requires_grad=True)
    h = x * 2
    h.reshape(-1)[::2] = w  # h = [[3, 4, 3], [8, 3, 12]]
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 2.0, 0.0], [2.0, 0.0, 2.0]])
    assert w.grad.item() == 3.0


def test_a_piece_of_split_or_unbind_refuses_a_write_in_the_graph_and_takes_one_under_no_grad():
    h = leaf() * 1
    with pytest.raises(RuntimeError, match="split returned"):
        h.split(1)[0].add_(1.0)
    with pytest.raises(RuntimeError, match="unbind returned"):
        h.unbind(1)[2][:1].add_(1.0)
    with tensor.no_grad():
        h.unbind(0)[1].add_(1.0)
    assert h.tolist() == [[1.0, 2.0, 3.0], [5.0, 6.0, 7.0]]


def test_a_view_made_under_no_grad_follows_its_base_s_requires_grad():
    x = tensor.tensor([1.0, 2.0, 3.0])
    with tensor.no_grad():
        v = x[1:]
        w = v.reshape(2, 1)
    assert not v.requires_grad and not w.requires_grad
    x.requires_grad_(True)
    assert v.requires_grad and w.requires_grad and v.is_leaf
    with pytest.raises(RuntimeError, match="created in no_grad mode"):
        w.add_(1.0)
    x.requires_grad_(False)
    assert not v.requires_grad and not w.requires_grad


def test_a_no_grad_view_or_a_piece_is_refused_in_the_graph_once_its_storage_is_written_and_usable_outside():
    x = leaf()
    with tensor.no_grad():
        v = x[0]
    h = x * 1
    piece = h.split(1)[1]
    w = piece.T  # a view of a piece shares the piece's guard
    assert (v * 2).requires_grad  # unchanged storage: usable
    with tensor.no_grad():
        x.mul_(2.0)
    h.add_(1.0)
    with pytest.raises(RuntimeError, match="created in no_grad mode.*modified in place"):
        v.sum()
    with pytest.raises(RuntimeError, match="created in no_grad mode"):
        _ = v.grad_fn
    for t in (piece, w):
        with pytest.raises(RuntimeError, match="created by split.*version 0 then, 1 now"):
            _ = t * 2
    with tensor.no_grad():
        assert (v * 2).tolist() == [4.0, 8.0, 12.0] and (w * 1).tolist() == [[5.0], [6.0], [7.0]]
    assert (v.detach() + 1).tolist() == [3.0, 5.0, 7.0] and (v > 3).tolist() == [False, True, True]


def test_a_storage_is_checked_only_while_a_view_made_under_no_grad_or_a_piece_of_it_lives():
    """The check costs a parameter nothing once the views an evaluation made of it under no_grad are gone."""
    x = leaf()
    with tensor.no_grad():
        v = x.T
    pieces = (x * 1).unbind(0)
    assert x._version_counter.guarded and pieces[0]._version_counter.guarded
    _ = x * 2  # v lives: the storage stays checked
    assert x._version_counter.guarded
    del v, pieces
    _ = x * 2  # the next use of x finds no such view left
    assert not x._version_counter.guarded


def test_writes_through_views_of_each_kind_on_each_device(device):
    x = tensor.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=tensor.float64, device=device, requires_grad=True)
    w = tensor.tensor(2.0, dtype=tensor.float64, device=device, requires_grad=True)
    h = x * 1
    for name in sorted(VIEWS):  # each multiplies its part of h by w once more
        (h if name == "expand" else VIEWS[name](h)).mul_(w)  # (the CuPy stand-in's expand is read-only)
    h.sum().backward()
    counts = 7 + np.array([[0, 1, 1], [1, 2, 2]])  # 7 views of all of h, then h[:, 1:] and h[1]
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2.0**counts)
    x_values = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_allclose(w.grad.item(), (counts * 2.0 ** (counts - 1) * x_values).sum())
    assert h.device == x.grad.device == w.grad.device == device
