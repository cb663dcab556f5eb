"""docs/pytorch_api.md is current, and every name it lists is PyTorch's."""

import importlib
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs"))
make_pytorch_api = importlib.import_module("make_pytorch_api")


def test_pytorch_api_page_is_current():
    assert make_pytorch_api.PAGE.read_text() == make_pytorch_api.render(), "run: python docs/make_pytorch_api.py"


@pytest.mark.parametrize("namespace", sorted(make_pytorch_api.NAMESPACES))
def test_every_listed_name_exists_in_pytorch(namespace):
    owner = torch.nn.Module() if namespace == "torch.nn.Module" else eval(namespace, {"torch": torch})  # noqa: S307
    names = make_pytorch_api.NAMESPACES[namespace][1].split()
    assert [n for n in names if not hasattr(owner, n)] == []


def test_the_page_names_what_this_issue_added():
    present = {name for names, _ in make_pytorch_api.table().values() for name in names}
    assert {
        "from_numpy",
        "split",
        "chunk",
        "topk",
        "__index__",
        "__format__",
        "ModuleDict",
        "clip_grad_norm_",
    } <= present


def test_the_page_names_the_learner_layers_and_data_tools():
    present = {name for names, _ in make_pytorch_api.table().values() for name in names}
    assert {
        "BatchNorm1d",
        "CrossEntropyLoss",
        "MSELoss",
        "Identity",
        "Flatten",
        "one_hot",
        "mse_loss",
        "DataLoader",
        "TensorDataset",
        "RandomSampler",
        "random_split",
    } <= present
