"""tensor.viz draws the graph autograd recorded: one box per Function, one ellipse per leaf, one arrow per input."""

import re
import shutil
import sys

import numpy as np
import pytest

import tensor
from tensor import viz


def nodes(dot):
    return re.findall(r'^  (n\d+) \[label="([^"]*)", shape=(\w+)\];$', dot, flags=re.M)


def edges(dot):
    return re.findall(r"^  (n\d+) -> (n\d+);$", dot, flags=re.M)


def labels(dot):
    return {node_id: label for node_id, label, _ in nodes(dot)}


def test_lesson_a_small_expression_has_a_node_per_op_and_per_leaf_and_an_edge_per_input():
    a = tensor.randn(2, 3, requires_grad=True)
    b = tensor.randn(2, 3, requires_grad=True)
    loss = (a * b + a).sum()  # Mul(a, b), Add(Mul, a), Sum(Add): 3 ops, 2 leaves
    dot = viz.to_dot(loss, params={"a": a, "b": b})
    assert sorted(label.split("\\n")[0] for _, label, _ in nodes(dot)) == ["Add", "Mul", "Sum", "a", "b"]
    assert len(edges(dot)) == 5  # a and b into Mul, Mul and a into Add, Add into Sum
    shapes = {label.split("\\n")[0]: shape for _, label, shape in nodes(dot)}
    assert shapes == {"Sum": "box", "Add": "box", "Mul": "box", "a": "ellipse", "b": "ellipse"}
    named = {label.split("\\n")[0]: node_id for node_id, label in labels(dot).items()}
    assert (named["a"], named["Add"]) in edges(dot) and (named["Add"], named["Sum"]) in edges(dot)


def test_a_tensor_used_twice_is_one_node_with_two_arrows():
    a = tensor.randn(3, requires_grad=True)
    product = a * tensor.randn(3)  # a tensor that needs no gradient is a "constant" leaf
    dot = viz.to_dot((product + product).sum())
    ops = [label.split("\\n")[0] for _, label, _ in nodes(dot)]
    assert sorted(ops) == ["Add", "Mul", "Sum", "constant", "leaf"]
    named = {label.split("\\n")[0]: node_id for node_id, label in labels(dot).items()}
    assert edges(dot).count((named["Mul"], named["Add"])) == 2
    assert len(edges(dot)) == 5  # a and the constant into Mul, Mul twice into Add, Add into Sum


def test_function_nodes_show_the_output_shape_and_dtype():
    x = tensor.randn(4, 5, dtype=tensor.float64, requires_grad=True)
    dot = viz.to_dot(x.sum(dim=0))
    assert "Sum\\n(5) float64" in dot
    assert "leaf\\n(4, 5) float64" in dot


def test_leaves_show_their_gradient_norm_once_backward_has_run():
    w = tensor.randn(3, 2, requires_grad=True)
    loss = (w * w).sum()
    assert "grad norm" not in viz.to_dot(loss, params={"w": w})
    loss.backward(retain_graph=True)
    expected = np.linalg.norm(2 * w.detach().numpy().astype(np.float64))
    (label,) = [label for _, label, _ in nodes(viz.to_dot(loss, params={"w": w})) if label.startswith("w")]
    assert float(label.split("grad norm ")[1]) == pytest.approx(expected, rel=1e-3)


def test_a_graph_freed_by_backward_is_a_clear_error():
    x = tensor.randn(3, requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        viz.to_dot(loss)


def test_a_deep_chain_is_drawn_without_recursion():
    x, step = tensor.ones(1, requires_grad=True), tensor.ones(1)
    y = x
    for _ in range(3000):
        y = y + step
    dot = viz.to_dot(y)
    assert len(nodes(dot)) == 3000 + 2  # the Adds, x and step
    assert len(edges(dot)) == 6000


def test_a_scalar_constant_shows_its_value():
    w = tensor.ones(2, requires_grad=True)
    assert 'label="constant 0.125\\n() float32"' in viz.to_dot(w * tensor.tensor(0.125))


def test_names_with_quotes_stay_valid_dot():
    w = tensor.ones(2, requires_grad=True)
    dot = viz.to_dot((w * w).sum(), params={'layer "one"': w})
    assert 'label="layer \\"one\\"\\n(2) float32"' in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot program")
def test_render_writes_an_svg_with_graphviz(tmp_path):
    pytest.importorskip("graphviz")
    x = tensor.randn(2, requires_grad=True)
    written = viz.render((x * x).sum(), tmp_path / "graph.svg")
    assert written == str(tmp_path / "graph.svg")
    assert "<svg" in (tmp_path / "graph.svg").read_text()


def test_render_without_graphviz_writes_the_dot_file_and_says_how_to_view_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # `import graphviz` now raises ImportError
    x = tensor.randn(2, requires_grad=True)
    written = viz.render((x * x).sum(), tmp_path / "graph.svg")
    assert written == str(tmp_path / "graph.dot")
    assert (tmp_path / "graph.dot").read_text() == viz.to_dot((x * x).sum())
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and "dot -Tsvg" in message and str(tmp_path / "graph.dot") in message
