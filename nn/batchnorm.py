"""BatchNorm1d: normalize each channel over the batch, keeping running statistics for evaluation."""

import tensor

from . import functional as F
from .module import Module, Parameter


class BatchNorm1d(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, per channel, for (N, C) or (N, C, L) inputs.

    In training, mean and var are the current batch's (over N, and L), and the running estimates
    move towards them: running = (1 - momentum) * running + momentum * batch, the variance unbiased
    (n / (n - 1) times the batch's), as PyTorch. momentum=None makes them the plain average of
    every batch so far (momentum 1 / batches seen). In eval() the running estimates normalize, so
    one example's output no longer depends on the rest of its batch.
    track_running_stats=False keeps no estimates: batch statistics in training and in eval.
    affine=False drops weight and bias; bias=False drops only the bias.
    """

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=True,
        track_running_stats=True,
        device=None,
        dtype=None,
        *,
        bias=True,
    ):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.use_bias = affine and bias
        if affine:
            self.weight = Parameter(tensor.ones(num_features, device=device, dtype=dtype))
            self.bias = Parameter(tensor.zeros(num_features, device=device, dtype=dtype)) if bias else None
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", tensor.zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", tensor.ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor.tensor(0, dtype=tensor.int64, device=device))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def forward(self, input):
        if input.ndim not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.ndim}D input)")
        if input.shape[1] != self.num_features:
            raise RuntimeError(
                f"BatchNorm1d({self.num_features}): input of shape {input.shape} has {input.shape[1]} channels in dim 1"
            )
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # the running stats become the average of every batch seen
                momentum = 1.0 / int(self.num_batches_tracked.item())
        use_batch_stats = self.training or not self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if not self.training or self.track_running_stats else None,
            self.running_var if not self.training or self.track_running_stats else None,
            self.weight,
            self.bias,
            use_batch_stats,
            momentum,
            self.eps,
        )

    def extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.use_bias}, track_running_stats={self.track_running_stats}"
        )
