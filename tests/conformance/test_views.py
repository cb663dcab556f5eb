"""view() refuses a layout it cannot reinterpret, as PyTorch does; contiguous() copies when needed.

A permuted tensor can still be viewed where the merged dims stay adjacent in memory
(permute(2, 0, 1).view(4, 6)); both frameworks allow that one.
"""

import numpy as np
import pytest

from tests.conformance.oracle import OURS, TORCH, check, check_raises

X = np.arange(24.0).reshape(2, 3, 4)


@pytest.mark.parametrize(
    "name, fn",
    [
        ("view_of_transpose", lambda ns, x: x.transpose(0, 1).view(-1)),
        ("view_of_permute", lambda ns, x: x.permute(2, 0, 1).view(24)),
        ("view_of_T", lambda ns, x: x[0].T.view(12)),
        ("view_of_stepped_slice", lambda ns, x: x[:, ::2].view(-1)),
        ("view_of_expand", lambda ns, x: x[:, :1].expand(2, 3, 4).view(-1)),
    ],
)
def test_view_of_an_incompatible_layout_raises_as_pytorch(name, fn):
    torch_error, our_error = check_raises(fn, X)
    assert "reshape" in str(our_error) or "contiguous" in str(our_error), f"{name}: {our_error}"


@pytest.mark.parametrize(
    "name, fn",
    [
        ("view_of_transpose_after_contiguous", lambda ns, x: x.transpose(0, 1).contiguous().view(-1)),
        ("reshape_of_transpose", lambda ns, x: x.transpose(0, 1).reshape(-1)),
        ("view_of_a_row_slice", lambda ns, x: x[1:].view(-1)),
        ("view_merging_dims_a_permute_keeps_adjacent", lambda ns, x: x.permute(2, 0, 1).view(4, 6)),
        ("view_splitting_a_dim_of_a_transpose", lambda ns, x: x.transpose(1, 2).view(2, 2, 2, 3)),
        ("view_of_contiguous_expand", lambda ns, x: x[:, :1].expand(2, 3, 4).contiguous().view(-1)),
    ],
)
def test_views_of_compatible_layouts_match_pytorch(name, fn):
    check(fn, X)


def test_contiguous_of_a_transpose_is_a_copy_and_is_contiguous_as_pytorch():
    def run(ns):
        x = ns.torch.tensor(X)
        t = x.transpose(0, 1)
        c = t.contiguous()
        c[0, 0, 0] = -1.0
        return float(x[0, 0, 0]), c.is_contiguous(), t.is_contiguous(), x.is_contiguous()

    assert run(OURS) == run(TORCH)


def test_contiguous_of_a_contiguous_tensor_is_itself_as_pytorch():
    def run(ns):
        x = ns.torch.tensor(X)
        return x.contiguous() is x

    assert run(OURS) == run(TORCH)
