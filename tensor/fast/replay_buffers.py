"""The buffers of a replay (tensor/fast/replay.py): which arrays a first replay made are kept, for the next
replays to write into instead of allocating them again.

An op with an *into* form (tensor/fast/into_forms.py: its forward or backward with `out=`) runs its own
form at the first replay; what it returns is offered here, and kept when nothing but the plan can see it:

- an op's output: a C-ordered NumPy array (or one that owns its memory, in any order, for an into form
  that writes into any layout) that shares no memory with the op's inputs (an op that hands an input
  on, or returns a view of it, has nothing of its own to keep);
- an op's gradients: C-ordered NumPy arrays (or, as above, owning their memory) that share no memory with its gradient input, its saved
  arrays or each other (Add hands one gradient to both inputs);
- after the first replay, any kept array that shares memory with what the caller can reach is let go:
  an output of the call or a view of one (the loss the caller keeps), a leaf's .grad.

An output slot of the call is never offered. Each slot is written once per replay and read after that,
so a kept array is never overwritten while the same step still reads it, and each set of Function
instances (`_InstanceSet`: one per call whose backward is still to come) has arrays of its own. While a
parameter has a hook, no gradient is written into a kept array (the hook may keep what it is given).

An into form's temporaries (`into_forms.kept`, on the op's instance), a pending gradient's products
(`_InstanceSet.pending_arrays`, per op that receives the gradient) and the engine's sums of gradients
(kept on the receiving op's instance) are kept the same way: each is written before the one op that
reads it runs (a sum before its op's backward) and not again in that replay, and the caller never sees
them (a leaf's .grad is a copy; while a parameter has a hook, gradients and sums are not kept).
"""

import numpy as np


def offer_output(buffers, slot, array, inputs, any_layout=False):
    """Keep an op's output from a first replay as the array its next replays write into (see above)."""
    if type(array) is not np.ndarray or not _layout_kept(array, any_layout):
        return
    if any(np.may_share_memory(array, x) for x in inputs if type(x) is np.ndarray):
        return
    buffers[slot] = array


def _layout_kept(array, any_layout):
    """C order; or, for an into form that writes into any layout (into_forms.into_form), an array that owns
    its memory (a view's base may be someone else's)."""
    return array.flags.c_contiguous or (any_layout and array.base is None)


def offer_gradients(buffers, index, grads, grad_output, saved, any_layout=False):
    """Keep the gradients op entry `index`'s backward made at a first replay (see above): as one array, or a
    tuple with None where the backward gave None, as the backward returned them."""
    found = []
    for g in grads if type(grads) is tuple else (grads,):
        if g is None:
            found.append(None)
            continue
        if type(g) is not np.ndarray or not _layout_kept(g, any_layout):
            return
        if any(np.may_share_memory(g, a) for a in (grad_output, *saved, *found) if type(a) is np.ndarray):
            return
        found.append(g)
    buffers[index] = tuple(found) if type(grads) is tuple else found[0]


def let_go_of_reachable(plan, functions, slots):
    """After a first replay: let go of every kept array whose memory the caller can reach (see above)."""
    reachable = [slots[slot] for slot, _ in plan.outputs if slot is not None]
    reachable += [leaf.grad._array for leaf in plan.leaves if leaf.grad is not None]
    reachable = [array for array in reachable if type(array) is np.ndarray]
    for slot, buffer in list(functions.buffers.items()):
        if any(np.may_share_memory(buffer, array) for array in reachable):
            del functions.buffers[slot]
    for index, kept in list(functions.grad_buffers.items()):
        arrays = [b for b in (kept if type(kept) is tuple else (kept,)) if b is not None]
        if any(np.may_share_memory(b, array) for b in arrays for array in reachable):
            del functions.grad_buffers[index]
    functions.buffers_ready = True
