"""A Hypothesis state machine builds random graphs (reuse and diamonds included) and
compares the engine's gradients with a naive reference: plain NumPy values and a
recursive chain rule that walks every path separately, with no topological
sort and no shared accumulation, so it shares none of the engine's logic."""

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from hypothesis.stateful import Bundle, RuleBasedStateMachine, rule

import tensor

SHAPE = (3,)

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


class ReferenceNode:
    def __init__(self, value, parents=(), local_grads=None):
        self.value, self.parents, self.local_grads = value, parents, local_grads

    def backprop(self, upstream, into):
        """Add upstream * d(self)/d(leaf) to into[leaf] along every path, recursively."""
        if not self.parents:
            into[id(self)] = into.get(id(self), 0) + upstream
            return
        for parent, local in zip(self.parents, self.local_grads(*(p.value for p in self.parents))):
            parent.backprop(upstream * local, into)


class RandomGraphs(RuleBasedStateMachine):
    nodes = Bundle("nodes")

    def __init__(self):
        super().__init__()
        self.leaves = []  # (engine tensor, reference node)

    @rule(target=nodes, values=hnp.arrays(np.float64, SHAPE, elements=st.floats(-2, 2)))
    def leaf(self, values):
        pair = (tensor.tensor(values, dtype=tensor.float64, requires_grad=True), ReferenceNode(values))
        self.leaves.append(pair)
        return pair

    @rule(target=nodes, x=nodes, name=st.sampled_from(sorted(UNARY)))
    def unary(self, x, name):
        op, value, derivative = UNARY[name]
        return op(x[0]), ReferenceNode(value(x[1].value), (x[1],), lambda a: (derivative(a),))

    @rule(target=nodes, x=nodes, y=nodes, name=st.sampled_from(sorted(BINARY)))
    def binary(self, x, y, name):
        op, value, derivatives = BINARY[name]
        return op(x[0], y[0]), ReferenceNode(value(x[1].value, y[1].value), (x[1], y[1]), derivatives)

    @rule(target=nodes, x=nodes, name=st.sampled_from(sorted(BINARY)))
    def binary_on_itself(self, x, name):
        """x op x: the same tensor enters one op twice."""
        return self.binary(x, x, name)

    @rule(root=nodes, upstream=hnp.arrays(np.float64, SHAPE, elements=st.floats(-2, 2)))
    def gradients_match_the_reference(self, root, upstream):
        engine_root, reference_root = root
        np.testing.assert_allclose(engine_root.data, reference_root.value, rtol=1e-12, atol=1e-12)
        for t, _ in self.leaves:
            t.grad = None
        if engine_root.requires_grad:
            engine_root.backward(tensor.tensor(upstream, dtype=tensor.float64), retain_graph=True)
        expected = {}
        reference_root.backprop(upstream, expected)
        for t, node in self.leaves:
            want = expected.get(id(node), np.zeros(SHAPE))
            got = np.zeros(SHAPE) if t.grad is None else t.grad.data
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


RandomGraphs.TestCase.settings = settings(max_examples=30, stateful_step_count=12, deadline=None)
test_engine_matches_naive_reference_on_random_graphs = RandomGraphs.TestCase
