"""Test support: a strict stand-in for CuPy, so the "cuda" path runs on machines without a GPU."""
