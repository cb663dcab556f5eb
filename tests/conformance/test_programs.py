"""Small complete PyTorch programs, written once as source text, run under PyTorch and (imports rewritten) here.

Both runs start from the same weights (each program loads them from a seeded NumPy generator
through torch.from_numpy). The random draws a program makes (torch.randint, torch.multinomial)
are recorded under PyTorch and replayed here, after checking that the call asked for the same
thing (for multinomial: the same probabilities, within float32 tolerance); the loss curves each
program records must then agree within float32 tolerance, and its printed lines must read the same.
"""

import re
from pathlib import Path

import numpy as np
import pytest

import nn
import tensor

torch = pytest.importorskip("torch")

PROGRAMS = sorted(Path(__file__).parent.joinpath("programs").glob("*.py"))
IMPORTS = [
    (r"^import torch\.nn\.functional as F$", "import nn.functional as F"),
    (r"^from torch\.nn import functional as F$", "import nn.functional as F"),
    (r"^import torch\.nn as nn$", "import nn"),
    (r"^import torch$", "import tensor as torch"),
]


def rewrite_imports(source):
    for pattern, replacement in IMPORTS:
        source = re.sub(pattern, replacement, source, flags=re.MULTILINE)
    assert "torch." not in "".join(line for line in source.splitlines() if line.startswith(("import", "from")))
    return source


def execute(source, name):
    records, printed = [], []
    namespace = {
        "__name__": "__main__",
        "record": records.append,
        "print": lambda *args: printed.append(" ".join(str(a) for a in args)),
    }
    exec(compile(source, name, "exec"), namespace)  # noqa: S102
    return records, printed


def run_under_pytorch(source, name, monkeypatch):
    draws = []
    randint, multinomial = torch.randint, torch.multinomial

    def recorded_randint(*args, **kwargs):
        out = randint(*args, **kwargs)
        draws.append(("randint", args, out.numpy().copy()))
        return out

    def recorded_multinomial(probs, *args, **kwargs):
        out = multinomial(probs, *args, **kwargs)
        draws.append(("multinomial", probs.detach().numpy().copy(), out.numpy().copy()))
        return out

    with monkeypatch.context() as patch:
        patch.setattr(torch, "randint", recorded_randint)
        patch.setattr(torch, "multinomial", recorded_multinomial)
        return execute(source, name), draws


def run_here(source, name, draws, monkeypatch):
    pending = list(draws)

    def next_draw(kind):
        assert pending, f"the program draws more ({kind}) here than under PyTorch"
        draw = pending.pop(0)
        assert draw[0] == kind, f"the program calls {kind} where PyTorch's run called {draw[0]}"
        return draw

    def replayed_randint(*args, **kwargs):
        _, torch_args, out = next_draw("randint")
        assert [int(a) if not isinstance(a, tuple) else a for a in args] == list(torch_args)
        return tensor.tensor(out)

    def replayed_multinomial(probs, num_samples, replacement=False):
        _, torch_probs, out = next_draw("multinomial")
        np.testing.assert_allclose(
            probs.detach().numpy(), torch_probs, rtol=1e-4, atol=1e-6, err_msg="multinomial probabilities"
        )
        assert out.shape[-1] == num_samples
        return tensor.tensor(out)

    with monkeypatch.context() as patch:
        patch.setattr(tensor, "randint", replayed_randint)
        patch.setattr(tensor, "multinomial", replayed_multinomial)
        result = execute(rewrite_imports(source), name)
    assert not pending, f"{len(pending)} random draws of PyTorch's run were not made here"
    return result


NUMBER = re.compile(r"-?\d+\.\d+(e[-+]\d+)?")


def test_import_rewrite_covers_the_three_forms():
    source = "import torch\nimport torch.nn as nn\nfrom torch.nn import functional as F\nx = torch.zeros(1)\n"
    assert (
        rewrite_imports(source) == "import tensor as torch\nimport nn\nimport nn.functional as F\nx = torch.zeros(1)\n"
    )
    assert nn.functional is not None


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_program_gives_pytorchs_loss_curve_and_output(path, monkeypatch):
    source = path.read_text()
    (torch_records, torch_printed), draws = run_under_pytorch(source, path.name, monkeypatch)
    our_records, our_printed = run_here(source, path.name, draws, monkeypatch)
    assert len(our_records) == len(torch_records) > 0
    np.testing.assert_allclose(our_records, torch_records, rtol=2e-4, atol=2e-5, err_msg=f"{path.stem}: loss curve")
    assert len(our_printed) == len(torch_printed)
    for ours_line, torch_line in zip(our_printed, torch_printed):
        assert NUMBER.sub("#", ours_line) == NUMBER.sub("#", torch_line.replace("torch.", "tensor."))
        our_numbers = [float(m.group()) for m in NUMBER.finditer(ours_line)]
        torch_numbers = [float(m.group()) for m in NUMBER.finditer(torch_line)]
        np.testing.assert_allclose(our_numbers, torch_numbers, rtol=1e-3, atol=2e-3, err_msg=ours_line)
