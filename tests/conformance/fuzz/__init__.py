"""A differential fuzzer: small programs run line by line on PyTorch and on this project.

harness.py runs a program (a list of source lines) in two namespaces and compares every
variable after every line; programs.py draws programs with Hypothesis; `python -m
tests.conformance.fuzz --minutes 10 --seed N` is the long run (README in __main__.py).
"""
