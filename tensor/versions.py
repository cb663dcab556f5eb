"""Version counters: how autograd notices an in-place write to an array that a backward will read.

Every in-place write bumps the counter of the written storage, which a tensor shares with all its views.
`Function.apply` notes the versions of the tensors whose arrays an op saved (record_saved_versions);
backward refuses to run the op once one of them has changed (check_saved_versions).
"""


class VersionCounter:
    """How many in-place writes a storage has seen; a tensor and its views share one counter."""

    value = 0  # each in-place write adds 1 (on the instance)


def storage_of(array):
    """The array that owns the memory `array` looks at (itself when it owns it)."""
    while isinstance(array.base, type(array)):  # a view's base is the array it looks into
        array = array.base
    return array


def version_counter_for(out, inputs):
    """An output that is a view of an input's storage shares its counter; any other gets a new one."""
    if out.base is not None:  # a view: of an input, or of an array the op made itself
        storage = storage_of(out)
        for t in inputs:
            if storage_of(t._array) is storage:
                return t._version_counter
    return VersionCounter()


def owner_of(array, owners):
    """The position in `owners` of the tensor whose storage `array` looks at; None for an array
    the op made for itself (private to it: no in-place write can reach it)."""
    for position, t in enumerate(owners):
        if t._array is array:
            return position
    if getattr(array, "base", None) is None:  # owns its memory (or is no array: a slice of a key)
        return None
    storage = storage_of(array)
    for position, t in enumerate(owners):
        if storage_of(t._array) is storage:
            return position
    return None


def record_saved_versions(fn, inputs, out):
    """(counter, version now, shape, dtype, input position or "output") of each saved array's tensor."""
    owners = (*inputs, out)
    records = []
    for array in fn.saved:
        position = owner_of(array, owners)
        if position is not None:
            counter, data = owners[position]._version_counter, owners[position]._array
            role = position if position < len(inputs) else "output"
            records.append((counter, counter.value, data.shape, data.dtype, role))
    return tuple(records)


def check_saved_versions(fn):
    """Refuse to run backward on saved arrays that an in-place write has changed since forward."""
    for counter, version, shape, dtype, position in fn.saved_versions:
        if counter.value != version:
            role = "its output" if position == "output" else f"its input {position}"
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: [{shape} {dtype}] is at version {counter.value}; expected version {version} "
                f"(saved by {type(fn).__name__} as {role}). Write out of place (x = x * 2) or into a clone() instead"
            )
