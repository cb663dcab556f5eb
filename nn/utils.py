"""nn.utils: gradient clipping, as torch.nn.utils (same signatures, same return values).

Call between loss.backward() and optimizer.step():

    total_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
"""

import math

import tensor


def _grads(parameters):
    if isinstance(parameters, tensor.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


@tensor.no_grad()
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so that their joint norm is at most max_norm; return that norm before clipping.

    total = || (||g_1||_p, ..., ||g_n||_p) ||_p   (the p-norm of all gradients as one vector; p = inf: max |g|)
    every g *= min(1, max_norm / (total + 1e-6))
    The 1e-6 keeps the division finite for a zero gradient (PyTorch's constant).
    """
    grads = _grads(parameters)
    if not grads:
        return tensor.tensor(0.0)
    norm_type = float(norm_type)
    if norm_type == math.inf:
        norms = [g.abs().max() for g in grads]
        total_norm = tensor.stack(norms).max()
    else:
        norms = [g.norm(norm_type) for g in grads]
        total_norm = tensor.stack(norms).norm(norm_type)
    if error_if_nonfinite and not math.isfinite(total_norm.item()):
        raise RuntimeError(
            f"the total norm of order {norm_type} of the gradients is {total_norm.item()}, so they cannot be "
            "clipped; set error_if_nonfinite=False to clip anyway"
        )
    scale = min(1.0, max_norm / (total_norm.item() + 1e-6))
    for g in grads:
        g.mul_(scale)
    return total_norm


@tensor.no_grad()
def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element into [-clip_value, clip_value], in place; return None."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        g.clamp_(-clip_value, clip_value)
