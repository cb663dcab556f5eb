"""The README's example runs as printed, in either kernels mode, and does what its comment says."""

import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_first_example_trains_a_step_and_leaves_a_gradient_on_the_weight():
    namespace = {}
    exec(compile(python_blocks()[0], "README.md", "exec"), namespace)  # noqa: S102  the README's own lines
    layer = namespace["layer"]
    assert layer.weight.grad is not None and layer.weight.grad.shape == (2, 4)
    assert np.isfinite(namespace["loss"].item())
