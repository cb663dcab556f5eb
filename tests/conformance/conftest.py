"""The conformance suite runs only where PyTorch is importable: PyTorch is its oracle, never a dependency."""

import pytest

pytest.importorskip("torch")
