"""nn.utils: gradient clipping, as torch.nn.utils (clip_grad_norm_, clip_grad_value_).

Both change the `.grad` of the parameters in place, after backward and before the optimizer step.
"""

import math

import tensor
from tensor import Tensor
from tensor.backend import stack


def _grads(parameters):
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale every gradient by max_norm / (total_norm + 1e-6) when that is below 1; return total_norm.

    total_norm is the norm_type-norm of all gradients taken together as one vector (the norm of
    the per-parameter norms); norm_type=inf takes the largest absolute value.
    """
    grads = _grads(parameters)
    if not grads:
        return tensor.tensor(0.0)
    norm_type = float(norm_type)
    xp = grads[0]._xp
    if math.isinf(norm_type):
        norms = [xp.abs(g._array).max() if g._array.size else xp.zeros((), g.dtype) for g in grads]
        total = stack(xp, norms).max() if norm_type > 0 else stack(xp, norms).min()
    else:
        norms = [(xp.abs(g._array) ** norm_type).sum() ** (1.0 / norm_type) for g in grads]
        total = (stack(xp, norms) ** norm_type).sum() ** (1.0 / norm_type)
    total = xp.asarray(total, dtype=grads[0].dtype)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"the total norm of order {norm_type} of the gradients is non-finite ({float(total)}), so it cannot "
            "be clipped; to skip this check, set error_if_nonfinite=False"
        )
    # min(max_norm / (total + 1e-6), 1), computed where the gradients are, as PyTorch does: a number read
    # back to the host would make every step on a GPU wait for it (and a CUDA graph capture cannot read)
    scale = xp.minimum(float(max_norm) / (total + 1e-6), 1.0).astype(total.dtype)
    for g in grads:
        g._array *= scale
    return Tensor._wrap(total)


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element into [-clip_value, clip_value] in place; returns None."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        g._xp.clip(g._array, -clip_value, clip_value, out=g._array)
