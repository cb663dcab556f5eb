"""A Hypothesis state machine builds random graphs (reuse, diamonds, views and in-place
writes included) and compares the engine's gradients with a naive reference: plain NumPy
values and a recursive chain rule that walks every path separately, with no topological
sort and no shared accumulation, so it shares none of the engine's logic.

In-place writes (under no_grad, as PyTorch allows them) change a node's value, and the
value of every view of its storage, but not the derivatives recorded when the ops ran.
So after a write, backward either gives exactly the reference's gradients or refuses
with the in-place error; it never gives a gradient computed from the changed values.
(Writes in the graph, which autograd records, have tests of their own.)
"""

import numpy as np
import pytest
from hypothesis import assume, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, rule

import tensor

SHAPE = (3,)
values = hnp.arrays(np.float64, SHAPE, elements=st.floats(-2, 2))

# name: (engine op, numpy value, local derivative(s) given the input values)
UNARY = {
    "tanh": (lambda x: x.tanh(), np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: 1 / (1 + np.exp(-x)), lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    "neg": (lambda x: -x, np.negative, lambda x: -np.ones_like(x)),
    "half": (lambda x: x * 0.5, lambda x: x * 0.5, lambda x: np.full_like(x, 0.5)),
}
BINARY = {
    "add": (lambda x, y: x + y, np.add, lambda x, y: (np.ones_like(x), np.ones_like(y))),
    "sub": (lambda x, y: x - y, np.subtract, lambda x, y: (np.ones_like(x), -np.ones_like(y))),
    "mul": (lambda x, y: x * y, np.multiply, lambda x, y: (y, x)),
}
# name: (in-place write on the engine tensor, the same on a NumPy value)
WRITES = {
    "mul_": (lambda t: t.mul_(3.0), lambda v: v * 3.0),
    "add_": (lambda t: t.add_(1.0), lambda v: v + 1.0),
    "zero_": (lambda t: t.zero_(), np.zeros_like),
    "setitem": (lambda t: t.__setitem__(1, 7.0), lambda v: np.where(np.arange(3) == 1, 7.0, v)),
}
IN_PLACE_ERROR = "modified by an inplace operation"


class ReferenceNode:
    """A value and the local derivatives to its parents, frozen when the op ran.

    `storage` is a one-element list holding the current value, shared by views."""

    def __init__(self, value, parents=(), local_grads=(), storage=None):
        self.storage = [value] if storage is None else storage
        self.parents, self.local_grads = parents, local_grads

    @property
    def value(self):
        return self.storage[0]

    def backprop(self, upstream, into):
        """Add upstream * d(self)/d(leaf) to into[leaf] along every path, recursively."""
        if not self.parents:
            into[id(self)] = into.get(id(self), 0) + upstream
            return
        for parent, local in zip(self.parents, self.local_grads):
            parent.backprop(upstream * local, into)


class RandomGraphs(RuleBasedStateMachine):
    nodes = Bundle("nodes")

    def __init__(self):
        super().__init__()
        self.leaves = []  # (engine tensor, reference node)
        self.nodes_made = []  # every (engine tensor, reference node), leaves included
        self.any_write = False

    @initialize(target=nodes, values=values)
    def first_leaf(self, values):
        return self.leaf(values)

    @rule(target=nodes, values=values)
    def leaf(self, values):
        engine = tensor.tensor(values.copy(), dtype=tensor.float64, requires_grad=True)
        pair = (engine, ReferenceNode(values.copy()))
        self.leaves.append(pair)
        return self.made(pair)

    def made(self, pair):
        self.nodes_made.append(pair)
        return pair

    @rule(target=nodes, x=nodes, name=st.sampled_from(sorted(UNARY)))
    def unary(self, x, name):
        op, value, derivative = UNARY[name]
        return self.made((op(x[0]), ReferenceNode(value(x[1].value), (x[1],), (derivative(x[1].value),))))

    @rule(target=nodes, x=nodes, y=nodes, name=st.sampled_from(sorted(BINARY)))
    def binary(self, x, y, name):
        op, value, derivatives = BINARY[name]
        a, b = x[1].value, y[1].value
        return self.made((op(x[0], y[0]), ReferenceNode(value(a, b), (x[1], y[1]), derivatives(a, b))))

    @rule(target=nodes, x=nodes, name=st.sampled_from(sorted(BINARY)))
    def binary_on_itself(self, x, name):
        """x op x: the same tensor enters one op twice."""
        return self.binary(x, x, name)

    @rule(target=nodes, x=nodes)
    def view(self, x):
        """x[:] is a view: it shares x's storage, so a write to either shows in both."""
        return self.made((x[0][:], ReferenceNode(None, (x[1],), (np.ones(SHAPE),), storage=x[1].storage)))

    @rule(x=nodes, name=st.sampled_from(sorted(WRITES)), through_detach=st.booleans())
    def write_in_place_under_no_grad(self, x, name, through_detach):
        engine_write, numpy_write = WRITES[name]
        with tensor.no_grad():
            engine_write(x[0].detach() if through_detach else x[0])
        x[1].storage[0] = numpy_write(x[1].value)
        self.any_write = True

    @rule(x=nodes, name=st.sampled_from(sorted(WRITES)))
    def write_in_place_into_a_leaf_in_the_graph_is_refused(self, x, name):
        """(A write into a non-leaf is recorded as an op: tests/tensor/test_in_place_recorded.py.)"""
        assume(x[0].is_leaf)
        engine_write, _ = WRITES[name]
        before = x[0]._array.copy()
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad is being used in an in-place"):
            engine_write(x[0])
        np.testing.assert_array_equal(x[0]._array, before)

    @rule(upstream=values)
    def gradients_match_the_reference_or_backward_refuses(self, upstream):
        """Backward from every node in turn, so a write anywhere upstream of a saved value is seen."""
        for engine_root, reference_root in self.nodes_made:
            np.testing.assert_allclose(engine_root._array, reference_root.value, rtol=1e-12, atol=1e-12)
            for t, _ in self.leaves:
                t.grad = None
            try:
                engine_root.backward(tensor.tensor(upstream, dtype=tensor.float64), retain_graph=True)
            except RuntimeError as error:
                assert IN_PLACE_ERROR in str(error) and self.any_write
                continue
            expected = {}
            reference_root.backprop(upstream, expected)
            for t, node in self.leaves:
                want = expected.get(id(node), np.zeros(SHAPE))
                got = np.zeros(SHAPE) if t.grad is None else t.grad._array
                np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


RandomGraphs.TestCase.settings = settings(max_examples=100, stateful_step_count=20, deadline=None)
test_engine_matches_naive_reference_on_random_graphs = RandomGraphs.TestCase
