"""tensor.utils: the helpers around training that PyTorch keeps under torch.utils.

data         Dataset, TensorDataset, DataLoader, samplers, random_split
tensorboard  SummaryWriter (needs the optional `tensorboard` package; imported on first use)
"""

from . import data

__all__ = ["data"]


def __getattr__(name):
    # tensorboard is an optional extra: import it only when a program asks for it.
    if name == "tensorboard":
        import importlib

        return importlib.import_module(".tensorboard", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
