"""The learner-program check's text preparation: imports rewritten, notebooks made scripts, loops shortened.

The programs themselves are not in this repository; these tests use small made-up sources."""

import json
import subprocess
import sys

from tests.programs.run_learner_programs import (
    failed_cells,
    loss_lines,
    notebook_to_script,
    rewrite_imports,
    shorten_notebook,
)


def test_only_the_imports_and_the_torch_nn_path_change():
    source = "\n".join(
        [
            "import torch",
            "import torch.nn as nn",
            "from torch.nn import functional as F",
            "from torch.utils.data.dataloader import DataLoader",
            "from torch.utils.tensorboard import SummaryWriter",
            "    import torch.nn.functional as F",
            "layer = torch.nn.Linear(2, 3)  # torch.nn here too",
            "x = torch.zeros(3)",
        ]
    )
    assert rewrite_imports(source).splitlines() == [
        "import tensor as torch",
        "import nn",
        "import nn.functional as F",
        "from tensor.utils.data.dataloader import DataLoader",
        "from tensor.utils.tensorboard import SummaryWriter",
        "    import nn.functional as F",
        "layer = nn.Linear(2, 3)  # nn here too",
        "x = torch.zeros(3)",
    ]


def test_the_torch_nn_path_brings_its_import_when_the_program_has_none():
    assert rewrite_imports("import torch\nw = torch.nn.init.zeros_").splitlines() == [
        "import tensor as torch",
        "import nn",
        "w = nn.init.zeros_",
    ]


def notebook(tmp_path, *cells):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": c} for c in cells]}))
    return path


def test_a_notebook_becomes_a_script_that_shows_last_values_and_goes_on_after_a_failing_cell(tmp_path):
    script = notebook_to_script(
        notebook(
            tmp_path,
            "%matplotlib inline\nimport matplotlib.pyplot as plt\nx = 2",
            "undefined_name + 1",
            "plt.figure(figsize=(4, 4)); plt.plot([1, 2]);",
            "x * 21",
            "x * 0;  # hidden by the semicolon",
            "from ipywidgets import interact",
            "# only a comment",
        )
    )
    (tmp_path / "script.py").write_text(script)
    out = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[cell 1 failed: NameError: name 'undefined_name' is not defined ]", "42"]
    assert failed_cells(out) == {1: "NameError: name 'undefined_name' is not defined"}


def test_shortening_touches_long_loops_and_max_steps_only():
    script = "max_steps = 200000\nfor i in range(200000): pass\nfor i in range(1000): pass\nfor _ in range(20): pass"
    assert shorten_notebook(script, 300).splitlines() == [
        "max_steps = 300",
        "for i in range(300): pass",
        "for i in range(300): pass",
        "for _ in range(20): pass",
    ]


def test_loss_lines_pick_losses_gradient_comparisons_and_scores():
    output = "step 10 | loss 2.5\n  10000/ 200000: 2.1234\nlogprobs | exact: True | approximate: True\nhello\n"
    assert loss_lines(output) == [
        "step 10 | loss 2.5",
        "10000/ 200000: 2.1234",
        "logprobs | exact: True | approximate: True",
    ]
