"""Loss modules: the functional losses wrapped as layers, holding their options, as torch.nn."""

from . import functional as F
from .module import Module


class CrossEntropyLoss(Module):
    """F.cross_entropy(input, target) with the options fixed at construction: class weights,
    ignore_index, reduction ('mean', 'sum', 'none') and label_smoothing."""

    def __init__(
        self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean", label_smoothing=0.0
    ):
        super().__init__()
        self.reduction = F._legacy_reduction(size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing
        if weight is not None:
            self.register_buffer("weight", weight)
        else:
            self.weight = None

    def forward(self, input, target):
        return F.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class MSELoss(Module):
    """The mean (or sum, or per-element) squared error F.mse_loss(input, target)."""

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.reduction = F._legacy_reduction(size_average, reduce, reduction)

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)
