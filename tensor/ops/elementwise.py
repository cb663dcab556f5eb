"""Elementwise ops. Binary ops may broadcast: their backward returns gradients of the
broadcast shape, and the engine sums them back to each input's shape (unbroadcast)."""

import math

from ..autograd import Function
from ..backend import erf


class Add(Function):
    """z = x + y;  dz/dx = 1,  dz/dy = 1"""

    def forward(self, x, y):
        return x + y

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    """z = x - y;  dz/dx = 1,  dz/dy = -1"""

    def forward(self, x, y):
        return x - y

    def backward(self, grad):
        return grad, -grad if self.needs_input_grad[1] else None


class Mul(Function):
    """z = x * y;  dz/dx = y,  dz/dy = x.

    Each input is saved only when the other's gradient reads it, as PyTorch saves them: x * 2 keeps no
    reference to x, so a later in-place write to x does not stop the backward."""

    def forward(self, x, y):
        self.save_operands(x, y)
        return x * y

    def save_operands(self, x, y):
        wants_x, wants_y = self.needs_input_grad or (False, False)  # empty outside the graph
        self.save_for_backward(x if wants_y else None, y if wants_x else None)

    def backward(self, grad):
        x, y = self.saved
        grad_x = grad * y if self.needs_input_grad[0] else None
        grad_y = grad * x if self.needs_input_grad[1] else None
        return grad_x, grad_y


class Div(Function):
    """z = x / y;  dz/dx = 1 / y,  dz/dy = -x / y**2.

    Saved as PyTorch saves them: y, and x only when y's gradient is wanted (never z: a write into the
    output does not stop the backward, a write into x before y's gradient does)."""

    def forward(self, x, y):
        wants_y = self.needs_input_grad[1:] == (True,)  # empty outside the graph
        self.save_for_backward(x if wants_y else None, y)
        return x / y

    def backward(self, grad):
        x, y = self.saved
        grad_x = grad / y if self.needs_input_grad[0] else None
        grad_y = -grad * (x / y / y) if self.needs_input_grad[1] else None
        return grad_x, grad_y


class Reciprocal(Function):
    """z = 1 / x;  dz/dx = -1 / x**2 = -z**2 (saved: z, as PyTorch, so a later write into x does not matter)"""

    def forward(self, x):
        z = 1 / x
        self.save_for_backward(z)
        return z

    def backward(self, grad):
        (z,) = self.saved
        return -grad * (z * z)


class Neg(Function):
    """z = -x;  dz/dx = -1"""

    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad


class PowScalar(Function):
    """z = x ** p for a constant p;  dz/dx = p * x ** (p - 1)  (0 for p = 0, also at x = 0, as PyTorch)"""

    def forward(self, x, exponent):
        self.save_for_backward(x)
        self.exponent = exponent
        return _power(self.xp, x, exponent)

    def backward(self, grad):
        (x,) = self.saved
        p = self.exponent
        if p == 0:  # x ** 0 is 1 everywhere; the formula would give 0 * 0 ** -1 = nan at x = 0
            return self.xp.zeros_like(grad)
        if p == 2:
            return grad * 2 * x
        return grad * p * _power(self.xp, x, p - 1)


def _power(xp, x, p):
    """x ** p as PyTorch computes it for a constant p: x ** -0.5 is 1 / sqrt(x) (nan at -inf, -inf at -0.0,
    where the C pow gives 0 and inf), as x ** 0.5 is sqrt(x); so x ** 0.5's gradient at -inf is nan."""
    return 1 / xp.sqrt(x) if p == -0.5 else x**p


class Pow(Function):
    """z = x ** y for tensors;  dz/dx = y * x ** (y - 1),  dz/dy = z * ln(x)  (x > 0 for dz/dy).

    As PyTorch at the edges: dz/dx = 0 where y = 0, dz/dy = 0 where x = 0 and y >= 0 (no 0 * inf)."""

    def forward(self, x, y, bool_exponent=False, bool_base=False):
        self.bool_exponent = bool_exponent  # y was a bool tensor, promoted to x's dtype
        self.bool_base = bool_base  # x was a Python bool (True ** y)
        if y.dtype.kind in "iu" and (y < 0).any():  # integer powers below 0, as PyTorch: 1, -1 or 0
            return _integer_power(self.xp, x, y)
        z = x**y
        self.save_for_backward(x, y, z)
        return z

    def backward(self, grad):
        x, y, z = self.saved
        if self.bool_exponent and self.needs_input_grad[0]:  # PyTorch's dz/dx computes y - 1, which a bool refuses
            raise RuntimeError("pow backward: subtraction with a bool exponent tensor is not supported (as PyTorch)")
        if (
            self.bool_base and self.needs_input_grad[1]
        ):  # PyTorch's backward fails on the bool number (an internal error)
            raise RuntimeError("pow backward: the derivative of a bool number ** y with respect to y is not supported")
        xp, zero = self.xp, grad.dtype.type(0)
        grad_x = xp.where(y == 0, zero, grad * y * x ** (y - 1)) if self.needs_input_grad[0] else None
        grad_y = xp.where((x == 0) & (y >= 0), zero, grad * z * xp.log(x)) if self.needs_input_grad[1] else None
        return grad_x, grad_y


def _integer_power(xp, x, y):
    """x ** y for integer arrays with some y < 0, where NumPy refuses: 1 ** y = 1, (-1) ** y = +-1
    by the parity of y, anything else 0 (the integer part of 1 / x ** -y), as PyTorch computes it."""
    z = x ** xp.maximum(y, 0)
    one = xp.ones_like(z)
    negative_power = xp.where(x == 1, one, xp.where(x == -1, xp.where(y % 2 == 0, one, -one), 0 * one))
    return xp.where(y < 0, negative_power, z)


class Exp(Function):
    """z = e**x;  dz/dx = e**x = z"""

    def forward(self, x):
        z = self.xp.exp(x)
        self.save_for_backward(z)
        return z

    def backward(self, grad):
        (z,) = self.saved
        return grad * z


class Log(Function):
    """z = ln(x);  dz/dx = 1 / x"""

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.log(x)

    def backward(self, grad):
        (x,) = self.saved
        return grad / x


class Sqrt(Function):
    """z = sqrt(x);  dz/dx = 1 / (2 sqrt(x)) = 1 / (2 z)"""

    def forward(self, x):
        z = self.xp.sqrt(x)
        self.save_for_backward(z)
        return z

    def backward(self, grad):
        (z,) = self.saved
        return grad / (2 * z)


class Sin(Function):
    """z = sin(x);  dz/dx = cos(x)"""

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.sin(x)

    def backward(self, grad):
        (x,) = self.saved
        return grad * self.xp.cos(x)


class Cos(Function):
    """z = cos(x);  dz/dx = -sin(x)"""

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.cos(x)

    def backward(self, grad):
        (x,) = self.saved
        return -grad * self.xp.sin(x)


class Tanh(Function):
    """z = tanh(x);  dz/dx = 1 - tanh(x)**2 = 1 - z**2"""

    def forward(self, x):
        z = self.xp.tanh(x)
        self.save_for_backward(z)
        return z

    def backward(self, grad):
        (z,) = self.saved
        return grad * (1 - z * z)


class Erf(Function):
    """z = erf(x);  dz/dx = 2 / sqrt(pi) * exp(-x**2)"""

    def forward(self, x):
        self.save_for_backward(x)
        return erf(x)

    def backward(self, grad):
        (x,) = self.saved
        return grad * (2 / math.sqrt(math.pi)) * self.xp.exp(-x * x)


class Sigmoid(Function):
    """z = 1 / (1 + e**-x);  dz/dx = z * (1 - z)"""

    def forward(self, x):
        # tanh form: exact for large |x| where 1 / (1 + exp(-x)) would overflow exp.
        z = 0.5 * (self.xp.tanh(0.5 * x) + 1)
        self.save_for_backward(z)
        return z

    def backward(self, grad):
        (z,) = self.saved
        return grad * z * (1 - z)


class Relu(Function):
    """z = max(x, 0);  dz/dx = 1 where x > 0, else 0.

    The gradient passes where x > 0 and is 0 elsewhere (written, not multiplied in: a nan or inf gradient
    where x <= 0 gives 0, as PyTorch's)."""

    def forward(self, x):
        z = self.xp.maximum(x, 0)
        self.save_for_backward(z)
        return z

    def backward(self, grad):
        (z,) = self.saved
        return self.xp.where(z > 0, grad, grad.dtype.type(0))


class Abs(Function):
    """z = |x|;  dz/dx = sign(x)  (0 at x = 0 and at nan, as PyTorch)"""

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.abs(x)

    def backward(self, grad):
        (x,) = self.saved
        return grad * sign(x)


def sign(x):
    """PyTorch's sign: 1 where x > 0, -1 where x < 0, else 0 (also at nan, where NumPy's sign gives nan)."""
    return (x > 0).astype(x.dtype) - (x < 0)


class Clamp(Function):
    """z = x limited to [low, high], two numbers (None: no bound);  dz/dx = 1 where low <= x <= high,
    bounds included, else 0 (also at nan, as PyTorch's). x is saved, as PyTorch saves it."""

    def forward(self, x, low, high):
        self.save_for_backward(x)
        self.low = -math.inf if low is None else low
        self.high = math.inf if high is None else high
        return self.xp.clip(x, low, high)

    def backward(self, grad):
        (x,) = self.saved
        inside = (x >= self.low) & (x <= self.high)  # False at nan
        return self.xp.where(inside, grad, grad.dtype.type(0))


class Maximum(Function):
    """z = max(x, y);  the gradient goes to the larger input, split evenly on ties (the smaller one gets
    0, also where the gradient is nan or inf, as PyTorch's)"""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return self.xp.maximum(x, y)

    def backward(self, grad):
        x, y = self.saved
        return _shares(self.xp, grad, x < y, x > y, x == y)


class Minimum(Function):
    """z = min(x, y);  the gradient goes to the smaller input, split evenly on ties (Maximum's edges)"""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return self.xp.minimum(x, y)

    def backward(self, grad):
        x, y = self.saved
        return _shares(self.xp, grad, x > y, x < y, x == y)


def _shares(xp, grad, x_loses, y_loses, tie):
    """The gradients of x and y: 0 where one loses (written, not multiplied in), half of grad on ties, else all of
    it (so where x or y is nan, both get it, as PyTorch's)."""
    zero, shared = grad.dtype.type(0), xp.where(tie, grad / 2, grad)
    return xp.where(x_loses, zero, shared), xp.where(y_loses, zero, shared)


class Where(Function):
    """z = x where condition else y;  dz/dx = condition,  dz/dy = not condition.

    The condition is a bool tensor, the third input; it gets no gradient."""

    def forward(self, x, y, condition):
        self.save_for_backward(condition)
        return self.xp.where(condition, x, y)

    def backward(self, grad):
        (condition,) = self.saved
        zero = grad.dtype.type(0)
        grad_x = self.xp.where(condition, grad, zero) if self.needs_input_grad[0] else None
        grad_y = self.xp.where(condition, zero, grad) if self.needs_input_grad[1] else None
        return grad_x, grad_y, None


class Cast(Function):
    """z = x converted to another dtype;  the gradient is converted back"""

    def forward(self, x, dtype):
        self.input_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, grad):
        return grad.astype(self.input_dtype)


class Remainder(Function):
    """z = x % y with the sign of y, as PyTorch's (and Python's);  dz/dx = 1,  dz/dy = -floor(x / y).

    For floats PyTorch takes fmod (the sign of x) and adds y where the signs differ, as NumPy's
    remainder does, but a zero keeps fmod's sign: 2.0 % -2.0 is +0.0, where NumPy gives -0.0
    (and 1 / z an inf of the other sign).
    `number % y` (x a Python number) has no derivative for y in PyTorch: refused here too."""

    def forward(self, x, y, x_is_number=False):
        if x.dtype.kind != "f":
            return x % y  # integers: NumPy's floor remainder is PyTorch's
        if self.needs_input_grad[1:] == (True,):  # only y's gradient reads x and y (PyTorch saves them then)
            self.save_for_backward(x, y)
        self.x_is_number = x_is_number
        z = self.xp.remainder(x, y)
        return self.xp.where(z == 0, 0 * x, z)  # a zero takes x's sign (fmod's), not y's

    def backward(self, grad):
        if not self.needs_input_grad[1]:
            return grad, None
        if self.x_is_number:
            raise RuntimeError("the derivative of number % y with respect to y is not implemented (as in PyTorch)")
        x, y = self.saved
        return grad, -grad * self.xp.floor(x / y)


class FloorDivide(Function):
    """z = floor(x / y). PyTorch defines no derivative for it: the output is in the graph, and a
    backward that reaches it raises."""

    def forward(self, x, y):
        return self.xp.floor_divide(x, y)

    def backward(self, grad):
        raise RuntimeError("the derivative of floor division (x // y) is not implemented (as in PyTorch)")
