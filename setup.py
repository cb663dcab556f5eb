from setuptools import find_packages, setup

setup(
    name="tinygrad_gpt",
    version="0.1.0",
    description="A from-scratch autograd engine on NumPy/CuPy and a GPT built on it, written to be read",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(
        include=["tensor", "tensor.*", "nn", "nn.*", "tinygrad_gpt", "tinygrad_gpt.*", "benchmarks", "benchmarks.*"]
    ),
    install_requires=["numpy>=1.24", "safetensors>=0.4"],
    extras_require={
        "gpu": ["cupy-cuda12x"],
        "train": ["tqdm"],
        "plot": ["matplotlib"],
        "viz": ["graphviz"],
        "test": ["pytest", "hypothesis"],
        "lint": ["ruff"],
    },
    entry_points={"console_scripts": ["tinygrad-gpt = tinygrad_gpt.cli:main"]},
)
