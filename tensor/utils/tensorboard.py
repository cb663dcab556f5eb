"""SummaryWriter: log training curves as TensorBoard event files, as torch.utils.tensorboard.

    writer = SummaryWriter()                      # writes under runs/<date>_<host>/
    writer.add_scalar("loss/train", loss.item(), step)
    writer.close()
    # then: tensorboard --logdir runs

The files are written by the `tensorboard` package's own event writer (as PyTorch does), so
TensorBoard reads them. It is an optional extra: pip install -e ".[tensorboard]".
"""

import os
import socket
import time
from datetime import datetime

try:
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
except ImportError as error:
    raise ImportError(
        "tensor.utils.tensorboard needs the tensorboard package, an optional extra: "
        'pip install -e ".[tensorboard]" (or pip install tensorboard)'
    ) from error


def _default_log_dir(comment):
    """runs/<Mon><day>_<HH-MM-SS>_<hostname><comment>, the directory PyTorch picks."""
    now = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", f"{now}_{socket.gethostname()}{comment}")


def _as_float(value):
    """A Python number from a number, a one-element Tensor or a NumPy scalar."""
    if hasattr(value, "item"):
        value = value.item()
    return float(value)


class SummaryWriter:
    """Write scalars to an event file in `log_dir`, which TensorBoard reads as it grows.

    log_dir: the directory (default runs/<date>_<host><comment>); max_queue: events kept in
    memory before a write; flush_secs: the longest an event waits before reaching the disk;
    filename_suffix: appended to the event file's name. purge_step is accepted and ignored
    (it tells TensorBoard to drop events of a crashed run from that step on).
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120, filename_suffix=""):
        self.log_dir = str(log_dir) if log_dir is not None else _default_log_dir(comment)
        self.purge_step = purge_step
        self._runs = {}  # add_scalars' writers, one per curve
        self._writer = EventFileWriter(self.log_dir, max_queue, flush_secs, filename_suffix)

    def get_logdir(self):
        return self.log_dir

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False, double_precision=False):
        """Record `scalar_value` under `tag` at step `global_step` (time `walltime`, default now)."""
        if self._writer is None:
            raise RuntimeError(f"SummaryWriter for {self.log_dir!r} is closed: make a new one to write again")
        value = Summary.Value(tag=tag, simple_value=_as_float(scalar_value))
        event = Event(summary=Summary(value=[value]), wall_time=time.time() if walltime is None else walltime)
        if global_step is not None:
            event.step = int(global_step)
        self._writer.add_event(event)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several curves on one chart: each tag gets its own run directory log_dir/main_tag_tag, as PyTorch."""
        for tag, value in tag_scalar_dict.items():
            run_dir = os.path.join(self.log_dir, f"{main_tag.replace('/', '_')}_{tag}")
            if run_dir not in self._runs:
                self._runs[run_dir] = SummaryWriter(run_dir)
            self._runs[run_dir].add_scalar(main_tag, value, global_step, walltime)

    def flush(self):
        """Write every pending event to disk now."""
        if self._writer is not None:
            self._writer.flush()
        for writer in self._runs.values():
            writer.flush()

    def close(self):
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None
        for writer in self._runs.values():
            writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
