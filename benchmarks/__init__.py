"""Benchmarks: fused against composed ops, GPT training steps, scaling, generation,
CPU against GPU, and PyTorch as the reference where it is installed.

Run `python -m benchmarks --help` (or `tinygrad-gpt bench`).
"""
