"""Draw the computation graph behind a tensor: DOT text with no dependency, a picture when Graphviz is installed.

    loss = model(x, y)[1]
    loss.backward(retain_graph=True)             # keep the graph, to draw it with gradients
    text = tensor.viz.to_dot(loss, params=dict(model.named_parameters()))
    tensor.viz.render(text, "graph.svg")          # graph.svg with Graphviz, else graph.dot

Boxes are Functions (the op, its output's shape and dtype); ellipses are leaves (a
parameter's name where `params` gives one, its shape, and its gradient's norm once backward
has run). An arrow goes from each input to the Function that used it, so the output is at
the bottom and every path up from it is a path the gradient flows back along.
"""

import math
import os
import sys

from .autograd import MadeInput
from .backend import to_device


def to_dot(output, params=None):
    """DOT text of the graph that made `output`: a node per Function and per leaf, an edge per input."""
    names = {id(t): name for name, t in (params or {}).items()}
    node_ids, lines, edges = {}, [], []

    def node(obj, label, shape):
        if id(obj) not in node_ids:
            node_ids[id(obj)] = f"n{len(node_ids)}"
            lines.append(f'  {node_ids[id(obj)]} [label="{_escape(label)}", shape={shape}];')
        return node_ids[id(obj)]

    def tensor_node(t):
        """The node a tensor's value comes from: the Function that made it, or the leaf itself
        (t is a Tensor, or a Function's record of an input an earlier op made: autograd.MadeInput)."""
        if t._ctx is None:
            return node(t, _leaf_label(t, names.get(id(t))), "ellipse")
        dtype = t.dtype if isinstance(t, MadeInput) else t.data.dtype
        return node(t._ctx, f"{type(t._ctx).__name__}\n{_shape(t)} {dtype}", "box")

    tensor_node(output)
    stack = [output] if output._ctx is not None else []
    visited = set()
    while stack:  # depth-first over Functions, without recursion (graphs can be thousands deep)
        made = stack.pop()
        fn = made._ctx
        if id(fn) in visited:
            continue
        visited.add(id(fn))
        if not fn.parents:
            raise RuntimeError(
                f"to_dot: the graph below {type(fn).__name__} was freed by backward(); "
                "call backward(retain_graph=True) to draw it, or draw it before backward()"
            )
        for parent in fn.parents:
            edges.append(f"  {tensor_node(parent)} -> {node_ids[id(fn)]};")
            if parent._ctx is not None:
                stack.append(parent)
    return "\n".join(["digraph computation {", "  node [fontname=Helvetica, fontsize=10];", *lines, *edges, "}"]) + "\n"


def render(graph, path, format="svg", params=None):
    """Write the picture of `graph` (DOT text, or a tensor to draw with to_dot) to `path`; returns the path written.

    Uses the `graphviz` Python package and its `dot` program when both are installed
    (pip install tinygrad_gpt[viz], and Graphviz itself); otherwise writes the DOT text
    to `path` with the suffix .dot and prints one line on how to view it.
    """
    text = graph if isinstance(graph, str) else to_dot(graph, params)
    try:
        import graphviz
    except ImportError:
        return _write_dot(text, path, format, "no graphviz Python package")
    try:
        picture = graphviz.Source(text).pipe(format=format)
    except graphviz.ExecutableNotFound:
        return _write_dot(text, path, format, "no Graphviz `dot` program")
    with open(path, "wb") as file:
        file.write(picture)
    return str(path)


def _write_dot(text, path, format, reason):
    dot_path = os.path.splitext(str(path))[0] + ".dot"
    with open(dot_path, "w", encoding="utf-8") as file:
        file.write(text)
    print(
        f"{reason}: wrote {dot_path}; view it with `dot -T{format} {dot_path} -o {path}` "
        "once Graphviz is installed, or paste it into any online Graphviz viewer",
        file=sys.stderr,
    )
    return dot_path


def _leaf_label(t, name):
    title = name or ("leaf" if t.requires_grad else "constant")
    if not name and t.ndim == 0:  # a scalar constant (a scale, a fill value) shows its value
        title += f" {to_device(t.data, 'cpu').item():.4g}"
    label = f"{title}\n{_shape(t)} {t.data.dtype}"
    if t.grad is not None:
        grad = to_device(t.grad.data, "cpu")
        label += f"\ngrad norm {math.sqrt(float((grad.astype('float64') ** 2).sum())):.4g}"
    return label


def _shape(t):
    return "(" + ", ".join(str(n) for n in t.shape) + ")"


def _escape(text):
    """A DOT string literal's content: backslashes and quotes escaped, newlines as DOT's line breaks."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
