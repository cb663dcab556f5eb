"""tensor.optim: optimizers (SGD, Adam, AdamW) and learning-rate schedules (optim.lr_scheduler), as torch.optim."""

from . import lr_scheduler
from .optimizer import SGD, Adam, AdamW, Optimizer

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
