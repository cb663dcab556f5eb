"""Without CuPy, or with CuPy and no GPU, asking for "cuda" is an error that says what to do (in every pass)."""

import sys

import pytest

import tensor
from tinygrad_gpt.cli import main


@pytest.fixture
def no_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # `import cupy` raises ImportError
    monkeypatch.setattr(tensor.backend, "_cupy", None)


def test_without_cupy_cuda_names_the_extra_for_each_cuda_version(no_cupy):
    assert not tensor.cuda.is_available()
    with pytest.raises(RuntimeError, match=r'needs CuPy.*"\.\[cuda12\]".*"\.\[cuda13\]".*nvidia-smi'):
        tensor.zeros(2, device="cuda")


def test_with_cupy_and_no_gpu_cuda_says_no_gpu_was_found(fake_cuda, monkeypatch):
    monkeypatch.setattr(fake_cuda.cuda.runtime, "device_count", 0)
    assert not tensor.cuda.is_available()
    with pytest.raises(RuntimeError, match="no GPU was found"):
        tensor.ones(2).to("cuda")


def test_the_cli_refuses_device_cuda_without_cupy_in_one_line(no_cupy, tmp_path):
    data = tmp_path / "corpus.txt"
    data.write_text("some text to train on. " * 50)
    with pytest.raises(SystemExit, match="--device cuda is not usable here: .*needs CuPy"):
        main(["train", "--data", str(data), "--steps", "1", "--device", "cuda", "--out", str(tmp_path / "run")])
