from setuptools import find_packages, setup

# The installed distribution is the library and its program; benchmarks/ and tests/ run from a checkout.
PACKAGES = find_packages(include=["tensor", "tensor.*", "nn", "nn.*", "tinygrad_gpt", "tinygrad_gpt.*"])

# One CuPy wheel per CUDA major version: `nvidia-smi` prints the driver's "CUDA Version".
# Two CuPy packages in one environment break each other, so pick one (or none, when CuPy is installed).
CUDA_EXTRAS = {"cuda12": ["cupy-cuda12x"], "cuda13": ["cupy-cuda13x"]}

if __name__ == "__main__":
    setup(
        name="tinygrad_gpt",
        version="0.1.0",
        description="A from-scratch autograd engine on NumPy/CuPy and a GPT built on it, written to be read",
        long_description=open("README.md", encoding="utf-8").read(),
        long_description_content_type="text/markdown",
        python_requires=">=3.10",
        packages=PACKAGES,
        install_requires=["numpy>=1.24", "safetensors>=0.4"],
        extras_require={
            **CUDA_EXTRAS,
            "gpu": CUDA_EXTRAS["cuda12"],  # the earlier name, kept so existing instructions still work
            "train": ["tqdm", "threadpoolctl"],  # the progress bar; BLAS thread control (tensor/fast/threads.py)
            "plot": ["matplotlib"],
            "viz": ["graphviz"],
            "tensorboard": ["tensorboard"],  # tensor.utils.tensorboard.SummaryWriter writes through it, as PyTorch
            "test": ["pytest", "hypothesis", "threadpoolctl"],
            "lint": ["ruff"],
        },
        entry_points={"console_scripts": ["tinygrad-gpt = tinygrad_gpt.cli:main"]},
    )
