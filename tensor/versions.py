"""Version counters: how autograd notices an in-place write to an array that a backward will read.

Every in-place write bumps the counter of the written storage, which a tensor shares with all its views.
`Function.apply` notes the versions of the tensors whose arrays an op saved (record_saved_versions);
backward refuses to run the op once one of them has changed (check_saved_versions).

Some views cannot be given a new history after a write to their storage, so PyTorch refuses to use them
in the graph after one: a view made under no_grad, and a piece of split, chunk or unbind (and a view of
either). Such a view notes the version it was made at (`_made_at_version`), its counter is marked
`guarded` while such a view lives, and `Function.apply` checks a guarded input (check_view_version): the
rare case pays (a parameter viewed under no_grad during an evaluation is unmarked at its next use).
"""

import weakref


class VersionCounter:
    """How many in-place writes a storage has seen; a tensor and its views share one counter."""

    value = 0  # each in-place write adds 1 (on the instance)
    no_grad_views = ()  # weak references to the views of the storage made under no_grad (tensor/in_place.py)
    guarded = False  # True while a view PyTorch cannot rebuild looks into the storage (check_view_version)
    guarded_views = ()  # weak references to those views


def guard_view(view, made_by):
    """Note that `view` (made under no_grad, or a piece that `made_by` returned) cannot be rebuilt after an
    in-place write to its storage: the version it was made at, and what made it."""
    counter = view._version_counter
    view._made_at_version = (counter.value, made_by)
    counter.guarded_views = [r for r in counter.guarded_views if r() is not None] + [weakref.ref(view)]
    counter.guarded = True


def check_view_version(t):
    """Refuse to use t in the graph (Function.apply, in grad mode) or to give its grad_fn when it is, or looks
    through, a view that guard_view noted and its storage was written in place since that view was made
    (PyTorch cannot give it a new history)."""
    view = t
    while getattr(view, "_made_at_version", None) is None:  # a view made of a guarded view shares its guard
        link = getattr(view, "_view_of", None)
        if link is None:  # t looks through none: unmark the storage once none of them lives
            counter = t._version_counter
            counter.guarded_views = [r for r in counter.guarded_views if r() is not None]
            counter.guarded = bool(counter.guarded_views)
            return
        view = link[0]
    version, made_by = view._made_at_version
    if t.requires_grad and t._version_counter.value != version:
        how = "in no_grad mode" if made_by == "no_grad" else f"by {made_by} (one of several views of one tensor)"
        raise RuntimeError(
            f"a view of shape {view.shape} was created {how}, and its base or another view of its base has been "
            f"modified in place since (version {version} then, {t._version_counter.value} now): PyTorch forbids "
            "using it in the graph. Take the view again after the write, use it under no_grad, or use .detach()"
        )


def storage_of(array):
    """The array that owns the memory `array` looks at (itself when it owns it)."""
    while isinstance(array.base, type(array)):  # a view's base is the array it looks into
        array = array.base
    return array


def sharing_storage(array, tensors):
    """The position in `tensors` of the tensor whose storage `array` looks at (its array, or a view into
    its memory); None when there is none: an array the op made for itself, which no in-place write reaches."""
    if not hasattr(array, "base"):  # no array: a slice of an indexing key
        return None
    storage = storage_of(array)
    for position, t in enumerate(tensors):
        if storage_of(t._array) is storage:
            return position
    return None


def version_counter_for(out, inputs):
    """An output that looks into an input's storage shares that input's counter; any other gets a new one."""
    position = sharing_storage(out, inputs)
    return VersionCounter() if position is None else inputs[position]._version_counter


def record_saved_versions(fn, inputs, out, out_array):
    """(counter, version now, shape, dtype, position of its tensor: an input's, or len(inputs) for the
    output) of each saved array that looks into a tensor's storage. A saved output is the output's own,
    also when forward returned a NumPy scalar (a 0-d result) that the output's array wraps."""
    owners = (*inputs, out)
    records = []
    checked = [inputs[position]._array for position in fn.checked_inputs]  # saved by PyTorch's op, not by this one
    for array in (*fn.saved, *checked):
        position = len(inputs) if array is out_array else sharing_storage(array, owners)
        if position is not None:
            counter = owners[position]._version_counter
            records.append((counter, counter.value, array.shape, array.dtype, position))
    return tuple(records)


def check_saved_versions(fn):
    """Refuse to run backward on saved arrays that an in-place write has changed since forward."""
    for counter, version, shape, dtype, position in fn.saved_versions:
        if counter.value != version:
            role = "its output" if position == len(fn.parents) else f"its input {position}"
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: [{shape} {dtype}] is at version {counter.value}; expected version "
                f"{version} (saved by {type(fn).__name__} as {role}). Write out of place (x = x * 2) or into a "
                "clone() instead"
            )
