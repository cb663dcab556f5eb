"""Turning PyTorch-style indices into NumPy/CuPy ones, with the checks CuPy would skip.

CuPy wraps out-of-range integer indices silently; these helpers raise IndexError
on both devices, naming the index, the dim and its size. Index arrays are copied, so
a later in-place write to the caller's index cannot change an Index op's backward.
"""

import numpy as np

from .backend import to_device


def index_key(x, key):
    """Turn a PyTorch-style index into a NumPy one on x's device, checking integer indices.

    Returns (key, is_basic): is_basic is False when an integer or bool array (or True/False) is in
    the key. A basic key ends in an Ellipsis, so that picking one element (x[0] of a 1-d x) gives a
    0-d view of x's memory, as PyTorch's, where NumPy would give a copy (a NumPy scalar).
    """
    items = key if isinstance(key, tuple) else (key,)
    if len(items) <= x.ndim and all(isinstance(item, slice) for item in items):
        return items + (Ellipsis,), True  # plain slices (x[:T, :T]): nothing to convert or check
    n_indexing = sum(_dims_consumed(item) for item in items if item is not Ellipsis and item is not None)
    if n_indexing > x.ndim:
        raise IndexError(f"too many indices for a tensor of shape {x.shape}")
    converted, is_basic, dim = [], True, 0
    for item in items:
        if hasattr(item, "_ctx"):  # a Tensor used as an index
            item = item._array
        if isinstance(item, (list, bool, np.bool_)):  # x[True] adds a dim of size 1, x[False] an empty one
            item = np.asarray(item)
        if isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)):
            item = int(item)
            if not -x.shape[dim] <= item < x.shape[dim]:
                raise IndexError(f"index {item} is out of bounds for dim {dim} with size {x.shape[dim]}")
        elif hasattr(item, "ndim"):  # a NumPy or CuPy array
            item = _private_copy(item, x.device)
            if item.dtype.kind not in "biu":
                raise IndexError(f"tensors used as indices must be integer or bool, got {item.dtype}")
            if item.dtype.kind in "iu":
                _check_bounds(item, x.shape[dim], dim)
            is_basic = False
        if item is Ellipsis:
            dim += x.ndim - n_indexing
        elif item is not None:
            dim += _dims_consumed(item)
        converted.append(item)
    if is_basic and not any(item is Ellipsis for item in items):
        converted.append(Ellipsis)
    return tuple(converted), is_basic


def _private_copy(array, device):
    """array on `device`, in memory of its own: backward scatters through the index later, and a
    write into the caller's index tensor in between must not move where the gradient goes."""
    moved = to_device(array, device)
    return moved.copy() if moved is array else moved


def _dims_consumed(item):
    """How many dims of x an index item uses up: a bool mask its own ndim (True and False: none), else one."""
    if isinstance(item, (bool, np.bool_)):
        return 0
    dtype = getattr(item, "dtype", None)
    if dtype is not None and dtype == np.bool_:
        return item.ndim
    return 1


def resolve_shape(shape, old_shape):
    """Fill in a -1 in `shape` and check that it holds as many elements as old_shape."""
    numel = int(np.prod(old_shape))
    known = int(np.prod([n for n in shape if n != -1]))
    unknowns = shape.count(-1)
    fits = known == numel if unknowns == 0 else unknowns == 1 and known > 0 and numel % known == 0
    if not fits:
        raise RuntimeError(f"cannot reshape a tensor of shape {old_shape} ({numel} elements) into {shape}")
    return tuple(numel // known if n == -1 else n for n in shape)


def _check_bounds(index, size, dim):
    if index.size and (int(index.min()) < -size or int(index.max()) >= size):
        bad = index.max() if int(index.max()) >= size else index.min()
        raise IndexError(f"index {int(bad)} is out of bounds for dim {dim} with size {size}")
