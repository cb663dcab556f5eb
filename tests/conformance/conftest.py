"""The conformance suite runs only where PyTorch is importable: PyTorch is its oracle, never a dependency.

Each test module skips itself with pytest.importorskip("torch") (through tests/conformance/oracle.py);
without PyTorch this conftest also keeps pytest from collecting them, so the skip is quiet.
"""

try:
    import torch  # noqa: F401
except ImportError:
    collect_ignore_glob = ["test_*.py"]
