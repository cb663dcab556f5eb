"""CUDA graphs under tensor.compile: on "cuda" each run of a plan's array work is captured once and launched.

A replayed plan (tensor/fast/replay.py) on "cuda" is cut into *segments* at its host calls (the
optimizer's step, zero_grad, a scheduler, clipping), which keep running as Python, so they read the
learning rate and step counts at every replay. Each run of array work between them (forward, backward)
is captured as a CUDA graph (tensor.cuda.CUDAGraph) at the first replay, and launched at the next ones:
one launch instead of a Python call per kernel.

A graph works on the memory it recorded, so a segment keeps:
- its inputs in buffers of its own (`statics`): the call's arguments and any array an earlier step made
  are copied in before each launch (the caller's tensors are never written);
- the external tensors' arrays it read (parameters): a launch checks each tensor still holds the same
  array, and runs the segment op by op for that call when one does not;
- the arrays it made that later steps read (the loss), and the gradient arrays it wrote into the
  leaves' .grad: after each launch the leaves get them back as their .grad, as the captured backward
  gave them. A launch needs every such leaf's .grad to be None (zero_grad(set_to_none=True) before the
  backward, as the training loops here do); otherwise the segment runs op by op for that call.
What a capture cannot record (a random draw: dropout with p > 0; a read of the device) makes the
capture fail: the segment then runs op by op at every replay, which is still a replay. Plans whose
outputs keep a graph for a later backward (a compiled module's loss) run op by op.
"""

from .. import backend, cuda
from ..tensor import Tensor
from .steps import HOST, slot_written, slots_read


def segments(plan):
    """The plan cut into host calls and graph segments, or [] where no graph is captured (on the CPU)."""
    ops = [entry for entry in plan.tape if entry[0] == "op"]
    on_gpu = bool(ops) and all(entry[8].__name__ != "numpy" for entry in ops)
    if not on_gpu or not cuda.is_available() or any(root is not None for slot, root in plan.outputs):
        return []
    parts, current = [], []
    for index, step in enumerate(plan.steps):
        if step[0] == HOST:
            if current:
                parts.append(GraphSegment(plan, current))
                current = []
            parts.append(_Steps(plan, [index]))
        else:
            current.append(index)
    if current:
        parts.append(GraphSegment(plan, current))
    return parts


class _Steps:
    """Steps run as they are (a host call)."""

    def __init__(self, plan, indices):
        self.plan, self.steps = plan, [plan.steps[i] for i in indices]

    def run(self, slots, functions, graphed):
        """Run the steps; returns whether the array work so far ran as captured graphs."""
        self.plan.run_steps(self.steps, slots, functions)
        return graphed


class GraphSegment(_Steps):
    """A run of array steps captured as one CUDA graph at its first run and launched after."""

    def __init__(self, plan, indices):
        super().__init__(plan, indices)
        last = indices[-1]
        made, inputs = set(), []
        for index in indices:
            for slot in slots_read(plan.tape[index]):
                if slot not in made and slot not in inputs:
                    inputs.append(slot)
            made.add(slot_written(plan.tape[index]))
        later = {slot for entry in plan.tape[last + 1 :] for slot in slots_read(entry)}
        later |= {slot for slot, _ in plan.outputs if slot is not None}
        external = {slot for slot, _ in plan.externals}
        self.inputs = [slot for slot in inputs if slot not in external]
        self.externals = [t for slot, t in plan.externals if slot in inputs]
        self.results_slots = [slot for slot in made if slot in later and slot is not None]
        leaves = {}  # the leaves a backward in this segment may write a .grad to: of every op before it
        has_backward = any(plan.tape[index][0] == "backward" for index in indices)
        for entry in plan.tape[: last + 1] if has_backward else ():
            if entry[0] == "op" and entry[5]:
                for description in entry[6]:
                    if description[0] == "leaf":
                        leaves[id(description[1])] = description[1]
        self.leaves = list(leaves.values())
        self.graph, self.failed, self.launches = None, None, 0

    def run(self, slots, functions, graphed):
        if not graphed or self.failed is not None or not all(p.grad is None for p in self.leaves):
            self.plan.run_steps(self.steps, slots, functions)
            return False
        if self.graph is None:
            return self._capture(slots, functions)
        if not all(t._array is array for t, array in self.external_arrays):
            self.plan.run_steps(self.steps, slots, functions)
            return False
        for slot, static in self.statics:
            array = slots[slot]
            if array is not static:
                static[...] = array
        self.graph.replay()
        self.launches += 1
        for slot, array in self.results:
            slots[slot] = array
        for p, grad in self.leaf_grads:
            p.grad, p._spare_grad = Tensor._wrap(grad), None
        return True

    def _capture(self, slots, functions):
        if backend.graph_capture is not None:  # inside someone's capture: no nesting
            self.plan.run_steps(self.steps, slots, functions)
            return False
        statics = []
        for slot in self.inputs:
            static = slots[slot].copy()  # the segment's own buffer: the caller's array is never written
            slots[slot] = static
            statics.append((slot, static))
        before, slots_before = [(p, p.grad, p._spare_grad) for p in self.leaves], list(slots)
        graph = cuda.CUDAGraph()
        try:
            with cuda.graph(graph):
                self.plan.run_steps(self.steps, slots, functions)
        except RuntimeError as error:  # a random draw, a read of the device: op by op from now on
            self.failed = str(error)
            for p, grad, spare in before:
                p.grad, p._spare_grad = grad, spare
            slots[:] = slots_before
            self.plan.run_steps(self.steps, slots, functions)  # nothing ran while capturing
            return False
        self.graph, self.statics = graph, statics
        self.results = [(slot, slots[slot]) for slot in self.results_slots]
        self.leaf_grads = [(p, p.grad._array) for p in self.leaves if p.grad is not None]
        self.external_arrays = [(t, t._array) for t in self.externals]
        graph.replay()  # a capture records the work without running it: this call's work runs now
        self.launches += 1
        return True
