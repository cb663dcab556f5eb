"""Check the engine's gradients against central finite differences, in float64.

For f: inputs -> output and a random upstream gradient v (a vector of ones would
hide bugs that mix up elements), the scalar L = sum(v * f(inputs)) has
dL/dx = v^T J_x. `gradcheck` compares it element by element with
(L(x + eps) - L(x - eps)) / (2 eps); `gradcheck_directional` compares a single
number, <dL/dx, u> against (L(x + eps u) - L(x - eps u)) / (2 eps) for a
random direction u, which costs two forward passes whatever the input size.
"""

import numpy as np

from .autograd import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """The analytic and numerical gradients differ; the message names where."""


def _prepare(fn, inputs, seed):
    for position, x in enumerate(inputs):
        if x.dtype != np.float64:
            raise TypeError(f"gradcheck needs float64 inputs, input {position} is {x.dtype}")
    differentiable = [i for i, x in enumerate(inputs) if x.requires_grad]
    if not differentiable:
        raise ValueError("gradcheck: no input requires grad")
    rng = np.random.default_rng(seed)
    with no_grad():
        out = fn(*inputs)
    upstream = inputs[0]._xp.asarray(rng.standard_normal(out.shape))

    def loss():
        with no_grad():
            return float((fn(*inputs)._array * upstream).sum())

    return differentiable, upstream, loss, rng


def _analytic_gradients(fn, inputs, upstream):
    for x in inputs:
        x.grad = None
    out = fn(*inputs)
    out.backward(Tensor._wrap(upstream))
    return [None if x.grad is None else x.grad._array for x in inputs]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """True when every element of every input's gradient matches finite differences.

    Raises GradcheckError naming the input, the index and both values of the worst element.
    """
    inputs = list(inputs)
    differentiable, upstream, loss, _ = _prepare(fn, inputs, seed)
    analytic = _analytic_gradients(fn, inputs, upstream)
    worst = None
    for i in differentiable:
        x = inputs[i]._array
        expected = analytic[i] if analytic[i] is not None else x * 0
        for index in np.ndindex(x.shape):
            original = x[index].item()
            x[index] = original + eps
            plus = loss()
            x[index] = original - eps
            minus = loss()
            x[index] = original
            numerical = (plus - minus) / (2 * eps)
            got = float(expected[index])
            excess = abs(got - numerical) - (atol + rtol * abs(numerical))
            if worst is None or excess > worst[0]:
                worst = (excess, i, index, got, numerical)
    if worst is not None and worst[0] > 0:
        _, i, index, got, numerical = worst
        raise GradcheckError(
            f"gradient of input {i} at index {index}: backward gave {got:.8g}, finite differences {numerical:.8g}"
        )
    return True


def gradcheck_directional(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4, seed=0):
    """True when <gradient, u> matches the finite difference of L along a random direction u.

    Two forward passes and one backward whatever the input size: use it for whole layers and models.
    """
    inputs = list(inputs)
    differentiable, upstream, loss, rng = _prepare(fn, inputs, seed)
    analytic = _analytic_gradients(fn, inputs, upstream)
    directions = {i: inputs[i]._xp.asarray(rng.standard_normal(inputs[i].shape)) for i in differentiable}
    predicted = sum(float((analytic[i] * directions[i]).sum()) for i in differentiable if analytic[i] is not None)
    originals = {i: inputs[i]._array.copy() for i in differentiable}

    def shifted_loss(step):
        for i in differentiable:
            inputs[i]._array[...] = originals[i] + step * directions[i]
        return loss()

    numerical = (shifted_loss(eps) - shifted_loss(-eps)) / (2 * eps)
    shifted_loss(0.0)
    if abs(predicted - numerical) > atol + rtol * abs(numerical):
        raise GradcheckError(
            f"directional derivative: backward gave {predicted:.10g}, finite differences {numerical:.10g}"
        )
    return True
