"""What `pip install` installs: the library and its program, never benchmarks/ or tests/; one CuPy per CUDA major."""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def setup_module_():
    spec = importlib.util.spec_from_file_location("project_setup", os.path.join(ROOT, "setup.py"))
    module = importlib.util.module_from_spec(spec)
    cwd = os.getcwd()
    os.chdir(ROOT)  # find_packages looks in the current directory, as pip's build does
    try:
        spec.loader.exec_module(module)  # not as __main__, so setup() itself does not run
    finally:
        os.chdir(cwd)
    return module


def test_the_distribution_holds_tensor_nn_and_tinygrad_gpt_only(setup_module_):
    tops = {name.split(".")[0] for name in setup_module_.PACKAGES}
    assert tops == {"tensor", "nn", "tinygrad_gpt"}
    assert {"tensor", "tensor.ops", "nn", "tinygrad_gpt"} <= set(setup_module_.PACKAGES)


def test_there_is_one_cupy_extra_per_cuda_major_version(setup_module_):
    assert setup_module_.CUDA_EXTRAS == {"cuda12": ["cupy-cuda12x"], "cuda13": ["cupy-cuda13x"]}
