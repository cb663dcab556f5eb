"""SummaryWriter writes event files that TensorBoard's own reader reads back (skipped without tensorboard)."""

import subprocess
import sys
from pathlib import Path

import pytest

import tensor


def test_scalars_written_are_read_back_by_tensorboards_reader(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from tensor.utils.tensorboard import SummaryWriter

    with SummaryWriter(tmp_path / "run") as writer:
        writer.add_scalar("loss/train", tensor.tensor(2.5), 0)
        writer.add_scalar("loss/train", 1.25, 10)
        writer.flush()
    events = EventAccumulator(str(tmp_path / "run"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("loss/train")] == [(0, 2.5), (10, 1.25)]


def test_the_default_log_dir_is_under_runs_as_pytorch(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    from tensor.utils.tensorboard import SummaryWriter

    monkeypatch.chdir(tmp_path)
    writer = SummaryWriter(comment="_lr0.1")
    writer.close()
    assert writer.log_dir.startswith("runs") and writer.log_dir.endswith("_lr0.1")
    assert len(list((tmp_path / writer.log_dir).iterdir())) == 1
    with pytest.raises(RuntimeError, match="closed"):
        writer.add_scalar("x", 1.0)


def test_without_tensorboard_the_import_error_names_the_extra():
    """A child process where `import tensorboard` fails, as in an environment without the extra."""
    code = (
        "import sys; sys.modules['tensorboard'] = None\n"
        "try:\n    from tensor.utils.tensorboard import SummaryWriter\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2]
    ).stdout
    assert ".[tensorboard]" in out
