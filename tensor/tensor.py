"""class Tensor: an array (NumPy on "cpu", CuPy on "cuda") plus what autograd needs.

A Tensor holds `_array` (the array, never a NumPy scalar), `requires_grad`, `grad`
(a Tensor or None), `_ctx`, the Function that made it (None for leaves), and a
version counter that it shares with every view of its storage. Every differentiable
method below is a call to a Function from tensor/ops or a composition of such
calls, so its gradient comes from the ops' backward methods. In-place methods
(`add_`, `x[i] = v`, ...) write into the array and bump the version counter, so a
backward that saved the old values refuses to run (tensor/autograd.py); in the graph
they are recorded as their out-of-place op (tensor/in_place.py), as PyTorch records them.
`.data` is PyTorch's: a Tensor sharing the storage, outside autograd.
"""

from collections import namedtuple

import numpy as np

from . import course_ops, dtypes, hooks, in_place, ops
from .autograd import backpropagate, make_outputs_of_class
from .backend import array_from, array_module, device_of, normalize_device, to_device
from .grad_mode import is_grad_enabled
from .indexing import index_key, resolve_shape
from .kernels import replaceable, textbook_name
from .random import pick_generator
from .versions import VersionCounter, check_view_version

values_and_indices = namedtuple("values_and_indices", ["values", "indices"])


def _dims_tuple(dims):
    """Accept f(0, 2) and f((0, 2)) alike, as PyTorch does."""
    return tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else tuple(dims)


class Tensor:
    # _spare_grad: None, or in fast mode an array zero_grad let go of, for the next gradient (tensor/fast/grad_buffers.py)
    # _no_grad_view: True for a view made under no_grad (_view_of_self)
    # _view_of, _made_at_version, _hooks and _retains_grad are set only on the few tensors that have them (read with getattr)
    __slots__ = (
        "_array",
        "grad",
        "requires_grad",
        "_ctx",
        "_version_counter",
        "_spare_grad",
        "_no_grad_view",
        "_view_of",
        "_made_at_version",
        "_hooks",
        "_retains_grad",
        "__weakref__",
    )
    __array_ufunc__ = None  # make NumPy hand `array * tensor` to Tensor.__rmul__

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        """Tensor(data): a float32 tensor (as torch.Tensor), or of `dtype` when given."""
        self._array = array_from(getattr(data, "_array", data), dtype or dtypes.default_float, device)
        self.grad, self.requires_grad, self._ctx = None, False, None
        self._version_counter, self._spare_grad, self._no_grad_view = VersionCounter(), None, False
        self.requires_grad_(requires_grad)

    @classmethod
    def _wrap(cls, array, requires_grad=False, ctx=None, version_counter=None):
        """Make a Tensor around an array without copying (the engine's constructor).

        NumPy turns full reductions into NumPy scalars (np.float32(3.0)); they become 0-d
        arrays here, so a Tensor's data is always an array of its device. A view of another
        tensor's storage passes that tensor's version_counter; anything else gets a new one.
        """
        out = object.__new__(cls)
        out._array = np.asarray(array) if isinstance(array, np.generic) else array
        out.grad, out.requires_grad, out._ctx = None, requires_grad, ctx
        out._version_counter = VersionCounter() if version_counter is None else version_counter
        out._spare_grad, out._no_grad_view = None, False
        return out

    # ----- what it is ------------------------------------------------------------------

    @property
    def shape(self):
        return self._array.shape

    @property
    def ndim(self):
        return self._array.ndim

    @property
    def dtype(self):
        return dtypes.named(self._array.dtype)

    @property
    def device(self):
        return device_of(self._array)

    @property
    def _xp(self):
        return np if type(self._array) is np.ndarray else array_module(self.device)  # the first test: the common case

    @property
    def _version(self):
        """How many in-place writes this tensor's storage has seen (shared with its views), as in PyTorch."""
        return self._version_counter.value

    @property
    def grad_fn(self):
        """The Function that made this tensor (None for a leaf), as in PyTorch (which refuses to say for a view
        it cannot rebuild after an in-place write: tensor/versions.py)."""
        if self._version_counter.guarded:
            check_view_version(self)
        return self._ctx

    @property
    def is_leaf(self):
        return self._ctx is None

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self):
        return self.ndim

    def numel(self):
        return int(self._array.size)

    def item(self):
        if self._array.size != 1:
            raise RuntimeError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self._array.item()

    def tolist(self):
        return to_device(self._array, "cpu").tolist()

    def numpy(self):
        if self.requires_grad:
            raise RuntimeError("numpy() on a tensor that requires grad: use tensor.detach().numpy()")
        if self.device != "cpu":
            raise TypeError(f"numpy() on a {self.device} tensor: copy it first with tensor.cpu()")
        return self._array

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self):
        if self._array.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous: use .any() or .all()")
        return bool(self._array.item())

    __hash__ = object.__hash__

    def __repr__(self):
        array = to_device(self._array, "cpu")
        finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
        whole = bool((finite == np.round(finite)).all())  # PyTorch prints 1. for whole numbers, else 4 decimals
        floatmode = "maxprec" if whole else "fixed"
        body = np.array2string(array, precision=4, floatmode=floatmode, separator=", ", prefix="tensor(")
        extras = []
        if self.dtype not in (dtypes.float32, dtypes.int64, dtypes.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self._ctx is not None:
            extras.append(f"grad_fn={textbook_name(self._ctx)}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({', '.join([body, *extras])})"

    # ----- gradients ----------------------------------------------------------------------

    def requires_grad_(self, requires_grad=True):
        if _is_no_grad_view(self):  # its flag is its base's, as in PyTorch: setting it changes nothing
            return self
        if not requires_grad and self._ctx is not None:
            raise RuntimeError(
                "requires_grad_(False) on a tensor made by an op: only leaves' flags can change; "
                "use x.detach() for a copy outside the graph"
            )
        if requires_grad and not dtypes.is_floating(self.dtype):
            raise RuntimeError(f"only floating point tensors can require gradients, got dtype {self.dtype}")
        self.requires_grad = requires_grad
        in_place.follow_base(self)  # views made of it under no_grad take its flag
        return self

    def backward(self, gradient=None, retain_graph=False):
        """Compute the gradient of this tensor with respect to every leaf that requires grad."""
        if not self.requires_grad or _is_no_grad_view(self):  # PyTorch's no_grad view leads to no leaf
            raise RuntimeError("backward() on a tensor that does not require grad and has no grad_fn")
        if gradient is None:
            if self._array.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a scalar output, got shape {self.shape}: "
                    "call .sum() first or pass gradient= of the same shape"
                )
            seed = self._xp.ones(self.shape, dtype=self.dtype)
        elif isinstance(gradient, Tensor):
            if gradient.device != self.device:
                raise RuntimeError(
                    f"backward(): gradient is on {gradient.device} but the tensor is on {self.device}: "
                    f"pass gradient.to({self.device!r})"
                )
            seed = gradient._array.astype(self.dtype, copy=False)
        else:
            seed = self._xp.asarray(gradient, dtype=self.dtype)
        if seed.shape != self.shape:
            raise RuntimeError(f"backward(): gradient has shape {seed.shape} but the tensor has shape {self.shape}")
        backpropagate(self, seed, retain_graph=retain_graph)

    @replaceable  # the engine room writes into the array zero_grad let go of (tensor/fast/grad_buffers.py)
    def _accumulate_grad(self, grad):
        """Add a gradient that backward computed into this leaf's .grad (after its hooks): a copy of it the
        first time (the array backward made may be shared with other gradients), added in place after, as
        PyTorch: whoever holds x.grad sees the sum."""
        if _is_no_grad_view(self):  # as PyTorch: such a view requires grad but never receives one
            return
        if getattr(self, "_hooks", None):
            grad = hooks.run_hooks(self, grad)
        if self.grad is None:
            self.grad = Tensor._wrap(grad.astype(self._array.dtype, copy=True))
        else:
            self._xp.add(self.grad._array, grad, out=self.grad._array)
            self.grad._version_counter.value += 1

    def detach(self):
        """The same data, cut out of the graph (a view: in-place writes to either show in both)."""
        return Tensor._wrap(self._array, version_counter=self._version_counter)

    def clone(self):
        return ops.Clone.apply(self)

    # ----- .data, retain_grad and hooks (what the learner's course uses, issue 29) --------------------------

    @property
    def data(self):
        """The same storage as a tensor outside autograd (requires_grad False, no history), as PyTorch's
        `.data`, so the course's update line (`.data += -lr * .grad` on each parameter) writes into the
        parameter. Unlike detach(), its writes are not counted by the tensor's version counter (PyTorch's
        neither), so a backward cannot tell: prefer no_grad() and detach()."""
        return Tensor._wrap(self._array)

    @data.setter
    def data(self, value):
        """`.data = t`: the tensor now holds t's storage (any shape, dtype and device), keeping its grad and history."""
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be set to a Tensor, got {type(value).__name__}")
        self._array = value._array

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in .grad after backward (a leaf keeps it anyway)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._ctx is not None and not self.retains_grad:
            self._retains_grad = True
            hooks.hook_producer(self)

    @property
    def retains_grad(self):
        return getattr(self, "_retains_grad", False)

    def register_hook(self, hook):
        """Call hook(grad) each time this tensor's gradient is computed; a Tensor it returns replaces
        the gradient. On a leaf the hook sees each gradient that flows in, before it is added to .grad."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        return hooks.register(self, hook)

    # ----- what the learner's course programs use (issue 29: tensor/course_ops.py) ----------------------

    def nelement(self):
        return self.numel()

    def log10(self):
        return course_ops.log10(self._as_float())

    def flip(self, *dims):
        return course_ops.flip(self, _dims_tuple(dims))

    def roll(self, shifts, dims=None):
        return course_ops.roll(self, shifts, dims)

    def cumsum(self, dim):
        return course_ops.cumsum(self, dim)

    def sort(self, dim=-1, descending=False, stable=False):
        return course_ops.sort(self, dim, descending, stable)

    def logsumexp(self, dim, keepdim=False):
        return course_ops.logsumexp(self, dim, keepdim)

    def tril(self, diagonal=0):
        """Keep the elements on and below the `diagonal`-th diagonal, zero the rest."""
        return course_ops.triangle(self, diagonal, upper=False)

    def triu(self, diagonal=0):
        """Keep the elements on and above the `diagonal`-th diagonal, zero the rest."""
        return course_ops.triangle(self, diagonal, upper=True)

    def where(self, condition, other):
        """self where condition is True, else other (torch.where(condition, self, other))."""
        return where(condition, self, other)

    def clamp(self, min=None, max=None):
        """Each element limited to [min, max] (bounds may be numbers or tensors); the gradient is 1 inside
        the range, bounds included, and 0 outside, as PyTorch's."""
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        if dtypes.is_floating(self.dtype) and not isinstance(min, Tensor) and not isinstance(max, Tensor):
            return ops.Clamp.apply(self, low=min, high=max)
        out = self
        if min is not None:
            out = where(out.detach() < min, min, out)
        if max is not None:
            out = where(out.detach() > max, max, out)
        if dtypes.is_floating(self.dtype):  # nan stays nan, with the gradient 0 there (as Clamp's)
            x = self.detach()
            out = where(x != x, x, out)
        return out

    clip = clamp

    # ----- in-place writes ---------------------------------------------------------------------------
    # Each writes into self._array and bumps the version counter this tensor shares with its views,
    # so a backward that saved this storage refuses to use it. In the graph (self requires grad, or the
    # value written does) the write is recorded as its out-of-place op (`record`, tensor/in_place.py);
    # a leaf that requires grad refuses, as in PyTorch.

    def _write_in_place(self, write, *values, out_of_place=None, region=Ellipsis):
        """write(self._array), or, when autograd must see it, self = out_of_place(self) kept in self's memory.

        Where elements of self share memory (an expanded tensor), PyTorch refuses most writes: `region`, the
        part of self written into, must hold each memory location once; region=None for the writes PyTorch
        makes anyway (a fill with one number, masked_fill_, an index put). In the graph every such write is
        refused (PyTorch's backward through it refuses)."""
        in_graph = is_grad_enabled() and (self.requires_grad or any(getattr(v, "requires_grad", False) for v in values))
        if in_graph:
            return in_place.record(self, out_of_place)
        if region is not None:
            self._refuse_expanded_write(region)
        write(self._array)
        self._version_counter.value += 1
        return self

    def _refuse_expanded_write(self, region=Ellipsis):
        target = self._array if region is Ellipsis else self._array[region]
        if target.size > 1 and any(stride == 0 and n > 1 for n, stride in zip(target.shape, target.strides)):
            raise RuntimeError(
                f"in-place operation on an expanded tensor of shape {target.shape} (strides {target.strides}): "
                "more than one element of it refers to a single memory location; clone() it first"
            )

    def _in_place_value(self, value, copy_across_devices=False):
        """The array to write: a Tensor's data (copied to this tensor's device only when asked), or the scalar."""
        if not isinstance(value, Tensor):
            return value
        if value.device != self.device and not copy_across_devices:
            raise RuntimeError(f"in-place operation on a {self.device} tensor with a {value.device} tensor")
        return to_device(value._array, self.device)

    def _as_written(self, value):
        """`value` as a Tensor of this tensor's device and dtype (differentiable), for a recorded write."""
        if not isinstance(value, Tensor):
            return Tensor._wrap(self._xp.asarray(value, dtype=self.dtype))
        return value.to(self.device).to(self.dtype)

    def _in_place_ufunc(self, ufunc, other, out_of_place):
        """self = ufunc(self, other), broadcasting other to self's shape; casting as NumPy's same_kind
        (a float into an int tensor is an error, as in PyTorch)."""
        array = self._in_place_value(other)
        try:
            return self._write_in_place(lambda data: ufunc(data, array, out=data), other, out_of_place=out_of_place)
        except (ValueError, TypeError) as error:
            raise RuntimeError(
                f"{ufunc.__name__} in place: cannot write {getattr(array, 'shape', type(array).__name__)} "
                f"{getattr(array, 'dtype', '')} into a tensor of shape {self.shape} and dtype {self._array.dtype}: {error}"
            ) from error

    def add_(self, other, alpha=1):
        other = other if alpha == 1 else other * alpha
        return self._in_place_ufunc(self._xp.add, other, lambda x: x + other)

    def sub_(self, other, alpha=1):
        self._refuse_bool_subtraction(other)
        other = other if alpha == 1 else other * alpha
        return self._in_place_ufunc(self._xp.subtract, other, lambda x: x - other)

    def mul_(self, other):
        return self._in_place_ufunc(self._xp.multiply, other, lambda x: x * other)

    def div_(self, other):
        return self._in_place_ufunc(self._xp.true_divide, other, lambda x: x / other)

    def pow_(self, exponent):
        return self._in_place_ufunc(self._xp.power, exponent, lambda x: x**exponent)

    def clamp_(self, min=None, max=None):
        low, high = self._in_place_value(min), self._in_place_value(max)
        return self._write_in_place(
            lambda data: self._xp.clip(data, low, high, out=data),
            min,
            max,
            out_of_place=lambda x: x.clamp(min, max),
        )

    def _refuse_recorded_fill_of_integers(self, value, how):
        """PyTorch records a fill of an integer or bool tensor with a 0-d value that requires grad (in grad mode):
        the tensor then requires grad and every op or backward that reaches it fails ("Autograd not support
        dtype"). Such a write is refused here, before it makes a tensor no gradient can pass through."""
        if getattr(value, "requires_grad", False) and is_grad_enabled() and not dtypes.is_floating(self.dtype):
            raise RuntimeError(
                f"{how} of a {self.dtype} tensor of shape {self.shape} with a value that requires grad: autograd "
                f"cannot carry a gradient through {self.dtype} (PyTorch records the write, then refuses every "
                "op and backward that reaches the tensor); write value.detach(), or inside `with torch.no_grad():`"
            )

    def fill_(self, value):
        self._refuse_recorded_fill_of_integers(value, "fill_")
        array = self._in_place_value(value)
        return self._write_in_place(
            lambda data: data.fill(array.item() if hasattr(array, "item") else array),
            value,
            out_of_place=lambda x: in_place.SetItem.apply(x, self._as_written(value), key=Ellipsis, is_basic=True),
            region=Ellipsis if isinstance(value, Tensor) else None,
        )

    def zero_(self):
        return self.fill_(0)

    def copy_(self, src):
        """Copy src's values into self (src broadcasts to self's shape; it may be on another device)."""
        array = self._in_place_value(src, copy_across_devices=True)
        if np.ndim(array) > self.ndim:  # NumPy would drop leading 1s; PyTorch's copy_ only broadcasts src up
            raise RuntimeError(f"copy_: src of shape {tuple(np.shape(array))} does not broadcast to {self.shape}")
        return self._write_in_place(
            lambda data: data.__setitem__(Ellipsis, array),
            src,
            out_of_place=lambda x: in_place.SetItem.apply(x, self._as_written(src), key=Ellipsis, is_basic=True),
        )

    def masked_fill_(self, mask, value):
        """masked_fill in place: `value` where `mask` (bool, broadcastable to self) is True."""
        if not isinstance(mask, Tensor) or mask.dtype != dtypes.bool_:
            raise TypeError(f"masked_fill_ needs a bool mask tensor, got {getattr(mask, 'dtype', type(mask).__name__)}")
        self._refuse_recorded_fill_of_integers(value, "masked_fill_")
        array, where = self._in_place_value(value), self._in_place_value(mask)
        return self._write_in_place(
            lambda data: self._xp.copyto(data, self._xp.asarray(array, dtype=data.dtype), where=where),
            value,
            out_of_place=lambda x: ops.Where.apply(self._as_written(value), x, mask),
            region=None,
        )

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        """Fill with draws from N(mean, std^2), from `generator` or the device's default one."""
        draws = pick_generator(self.device, generator).standard_normal(self.shape, self.dtype) * std + mean
        return self.copy_(Tensor._wrap(draws.astype(self.dtype, copy=False)))

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        """Fill with draws from U(a, b), from `generator` or the device's default one."""
        draws = pick_generator(self.device, generator).random(self.shape, self.dtype) * (b - a) + a
        return self.copy_(Tensor._wrap(draws.astype(self.dtype, copy=False)))

    def __setitem__(self, key, value):
        """x[key] = value, in place; a tensor value is copied to x's device, as in PyTorch.

        In the graph it is the op SetItem; a view made by x[key] and written into already is not
        written twice (Python's `x[key] += v` ends with x[key] = the view)."""
        key, is_basic = index_key(self, key)
        link = in_place.base_of(value) if isinstance(value, Tensor) else None
        if (
            link is not None
            and link[0] is self
            and is_basic
            and link[1:] == (ops.Index, {"key": key, "is_basic": True})
        ):
            return  # x[key] += v: the view's write is in self's memory already, and recorded if it had to be
        if not is_basic and isinstance(value, Tensor) and value.dtype != self.dtype:
            if value.ndim or any(getattr(item, "dtype", np.bool_) != np.bool_ for item in key):  # not a masked fill
                raise RuntimeError(
                    f"index put requires the source and destination dtypes to match (as PyTorch): writing "
                    f"{value.dtype} into {self.dtype}; convert the values with .to({self.dtype})"
                )
        if isinstance(value, Tensor) and value.ndim == 0 and (not is_basic or self._array[key].shape != ()):
            self._refuse_recorded_fill_of_integers(value, "x[key] = v (a fill)")  # PyTorch's copy_ of one shape: none
        array = self._in_place_value(value, copy_across_devices=True)
        self._write_in_place(
            lambda data: data.__setitem__(key, array),
            value,
            out_of_place=lambda x: in_place.SetItem.apply(x, self._as_written(value), key=key, is_basic=is_basic),
            region=key if is_basic else None,
        )

    __iadd__, __isub__, __imul__, __itruediv__ = add_, sub_, mul_, div_

    # ----- dtype and device ------------------------------------------------------------

    def to(self, *args, dtype=None, device=None):
        """to("cuda"), to(torch.float64), to(device, dtype): differentiable like PyTorch's."""
        for arg in args:
            if isinstance(arg, str):
                device = arg
            else:
                dtype = arg
        out = self
        if device is not None and normalize_device(device) != self.device:
            out = ops.ToDevice.apply(out, device=normalize_device(device))
        if dtype is not None and dtypes.normalize_dtype(dtype) != self.dtype:
            out = _cast(out, dtypes.normalize_dtype(dtype), for_an_op=False)
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def int(self):
        return self.to(dtypes.int32)

    def long(self):
        return self.to(dtypes.int64)

    def bool(self):
        return self.to(dtypes.bool_)

    # ----- arithmetic ---------------------------------------------------------------------

    def _operands(self, other):
        """(self, other) as Tensors of one dtype: the dtype PyTorch's promotion gives (dtypes.result_type)."""
        if isinstance(other, Tensor):
            if self._array.dtype == other._array.dtype:  # the common case, first
                return self, other
            dtype = dtypes.result_type(self._array, other._array)
            return _cast(self, dtype), _cast(other, dtype)
        if isinstance(other, (int, float, bool, np.number, np.bool_)):
            dtype = dtypes.result_type(self._array, other)
            return _cast(self, dtype), Tensor._wrap(self._xp.asarray(other, dtype=dtype))
        raise TypeError(f"unsupported operand: Tensor and {type(other).__name__}")

    def _refuse_bool_subtraction(self, other):
        if (
            self.dtype == dtypes.bool_
            or isinstance(other, (bool, np.bool_))
            or getattr(other, "dtype", None) == dtypes.bool_
        ):
            raise RuntimeError(
                "subtraction, the `-` operator, with a bool tensor is not supported (as in PyTorch): "
                "to invert a mask use `~mask`; convert with .int() or .float() to subtract"
            )

    def __add__(self, other):
        return ops.Add.apply(*self._operands(other))

    def __radd__(self, other):
        a, b = self._operands(other)
        return ops.Add.apply(b, a)

    def __sub__(self, other):
        self._refuse_bool_subtraction(other)
        return ops.Sub.apply(*self._operands(other))

    def __rsub__(self, other):
        self._refuse_bool_subtraction(other)
        a, b = self._operands(other)
        return ops.Sub.apply(b, a)

    def __mul__(self, other):
        return ops.Mul.apply(*self._operands(other))

    def __rmul__(self, other):
        a, b = self._operands(other)
        return ops.Mul.apply(b, a)

    def __truediv__(self, other):
        a, b = self._float_operands(other)
        return ops.Div.apply(a, b)

    def __rtruediv__(self, other):
        """other / self as PyTorch computes it: self.reciprocal() * other (whose backward reads 1 / self, not self:
        an in-place write into self after `3.0 / self` leaves the gradient alone)."""
        return self.reciprocal() * other

    def reciprocal(self):
        return ops.Reciprocal.apply(self._as_float())

    def _float_operands(self, other):
        """Operands for true division, which gives a float even for two int tensors."""
        a, b = self._operands(other)
        if not dtypes.is_floating(a.dtype):
            a, b = _cast(a, dtypes.default_float), _cast(b, dtypes.default_float)
        return a, b

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            base, promoted = self._operands(exponent)
            dtypes.require(base.dtype, "fiu", "pow")
            return ops.Pow.apply(base, promoted, bool_exponent=exponent.dtype == dtypes.bool_)
        dtype = dtypes.result_type(self._array, exponent)
        if dtype == dtypes.bool_:  # bool ** bool: NumPy computes it in int8
            return _cast(_cast(self, dtypes.int64) ** int(exponent), dtypes.bool_)
        if not dtypes.is_floating(dtype) and exponent < 0:
            raise RuntimeError(f"integers to negative integer powers are not allowed ({self.dtype} ** {exponent})")
        return ops.PowScalar.apply(_cast(self, dtype), exponent=exponent)

    def __rpow__(self, base):
        a, b = self._operands(base)
        dtypes.require(b.dtype, "fiu", "pow")  # True ** bool tensor: no bool pow, as PyTorch (bool ** True is one)
        return ops.Pow.apply(b, a, bool_base=isinstance(base, (bool, np.bool_)))

    def __matmul__(self, other):
        if not isinstance(other, Tensor):
            raise TypeError(f"matmul needs two tensors, got Tensor @ {type(other).__name__}")
        a, b = self._operands(other)
        return ops.Matmul.apply(a, b)

    def __rmatmul__(self, other):
        raise TypeError(f"matmul needs two tensors, got {type(other).__name__} @ Tensor")

    def __neg__(self):
        if self.dtype == dtypes.bool_:
            raise RuntimeError("negation, the `-` operator, on a bool tensor is not supported: use `~mask`")
        return ops.Neg.apply(self)

    add, sub, mul, div, matmul, pow = __add__, __sub__, __mul__, __truediv__, __matmul__, __pow__

    # ----- comparisons (bool tensors) and ops without a gradient, outside the graph ----------------------------------------

    def _outside_graph(self, other, op):
        """op(self, other) on the arrays, promoted to one dtype, as a Tensor that records no graph."""
        a, b = self._operands(other)
        return Tensor._wrap(op(a._array, b._array))

    def _refuse_gradient(self, other, symbol):
        if is_grad_enabled() and (self.requires_grad or getattr(other, "requires_grad", False)):
            raise RuntimeError(f"x {symbol} y records no gradient here: apply it to x.detach() (and y.detach())")

    def __lt__(self, other):
        return self._outside_graph(other, lambda a, b: a < b)

    def __le__(self, other):
        return self._outside_graph(other, lambda a, b: a <= b)

    def __gt__(self, other):
        return self._outside_graph(other, lambda a, b: a > b)

    def __ge__(self, other):
        return self._outside_graph(other, lambda a, b: a >= b)

    def __eq__(self, other):
        return self._outside_graph(other, lambda a, b: a == b)

    def __ne__(self, other):
        return self._outside_graph(other, lambda a, b: a != b)

    def _division_operands(self, other, symbol, reflected=False):
        """(dividend, divisor) of self and other (other first when reflected); an integer division by
        zero raises, as in PyTorch."""
        a, b = self._operands(other)
        if reflected:
            a, b = b, a
        _divide_checked(a._array, b._array, symbol)
        return a, b

    def __mod__(self, other):
        """Remainder with the sign of the divisor, as PyTorch's."""
        return ops.Remainder.apply(*self._division_operands(other, "%"))

    def __rmod__(self, other):
        a, b = self._division_operands(other, "%", reflected=True)
        return ops.Remainder.apply(a, b, x_is_number=not isinstance(other, Tensor))

    def __floordiv__(self, other):
        """Floor division (no derivative: as in PyTorch, backward through it raises)."""
        return ops.FloorDivide.apply(*self._division_operands(other, "//"))

    def __rfloordiv__(self, other):
        return ops.FloorDivide.apply(*self._division_operands(other, "//", reflected=True))

    def __invert__(self):
        """Logical not of a bool tensor, bitwise not of an integer one (as PyTorch)."""
        dtypes.require(self.dtype, "biu", "~")
        return Tensor._wrap(~self._array)

    def __and__(self, other):
        return self._outside_graph(other, lambda a, b: a & b)

    def __or__(self, other):
        return self._outside_graph(other, lambda a, b: a | b)

    # ----- elementwise functions ---------------------------------------------------------------

    def exp(self):
        return ops.Exp.apply(self._as_float())

    def log(self):
        return ops.Log.apply(self._as_float())

    def sqrt(self):
        return ops.Sqrt.apply(self._as_float())

    def tanh(self):
        return ops.Tanh.apply(self._as_float())

    def sin(self):
        return ops.Sin.apply(self._as_float())

    def cos(self):
        return ops.Cos.apply(self._as_float())

    def erf(self):
        return ops.Erf.apply(self._as_float())

    def sigmoid(self):
        return ops.Sigmoid.apply(self._as_float())

    def relu(self):
        dtypes.require(self.dtype, "fiu", "relu")
        return ops.Relu.apply(self)

    def abs(self):
        dtypes.require(self.dtype, "fiu", "abs")
        return ops.Abs.apply(self)

    def _as_float(self):
        return self if dtypes.is_floating(self._array.dtype) else _cast(self, dtypes.default_float)

    def masked_fill(self, mask, value):
        """A copy with `value` where `mask` (a bool tensor broadcastable to self) is True."""
        if not isinstance(mask, Tensor) or mask.dtype != dtypes.bool_:
            raise TypeError(f"masked_fill needs a bool mask tensor, got {getattr(mask, 'dtype', type(mask).__name__)}")
        fill = Tensor._wrap(self._xp.asarray(value, dtype=self.dtype))
        return ops.Where.apply(fill, self, mask)

    # ----- reductions ---------------------------------------------------------------------------

    # Signatures as PyTorch's, positional forms included (x.var(0, False): dim 0, unbiased False).

    def sum(self, dim=None, keepdim=False, *, dtype=None):
        x = self if dtype is None else self.to(dtype)
        if dtype is None and not dtypes.is_floating(x.dtype):
            x = _cast(x, dtypes.int64)  # integer and bool sums are int64, as PyTorch's
        return ops.Sum.apply(x, axis=_axis(dim, self.ndim), keepdims=keepdim)

    def mean(self, dim=None, keepdim=False, *, dtype=None):
        x = self if dtype is None else self.to(dtype)
        _require_floating(x, "mean")
        return ops.Mean.apply(x, axis=_axis(dim, self.ndim), keepdims=keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """Variance, divided by n - correction: 1 (Bessel's, the default, unbiased=True) or 0 (unbiased=False).
        PyTorch's forms: var(), var(unbiased), var(dim, unbiased, keepdim), var(dim, keepdim=..., correction=...)."""
        if isinstance(dim, bool):  # var(unbiased)
            dim, unbiased = None, dim
        if unbiased is not None and not isinstance(unbiased, bool):
            raise TypeError(f"var/std: unbiased must be a bool, got {unbiased!r} (for an int use correction=)")
        if unbiased is not None and correction is not None:
            raise TypeError("var/std: give either unbiased or correction, not both")
        correction = int(unbiased) if unbiased is not None else 1 if correction is None else correction
        _require_floating(self, "std and var")
        return ops.Var.apply(self, axis=_axis(dim, self.ndim), keepdims=keepdim, correction=correction)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """sqrt(var), with var's forms; its gradient is 0 where it is 0 (a constant input), as PyTorch's."""
        return ops.RootOfSquares.apply(self.var(dim, unbiased, keepdim, correction=correction))

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        """The p-norm over dim (all elements when None): p = 2 or "fro", 1, inf, -inf, 0 (nonzeros), any other."""
        x = self if dtype is None else self.to(dtype)
        _require_floating(x, "norm")
        axis = _axis(dim, self.ndim)
        if p in (2, "fro"):
            return ops.RootOfSquares.apply((x * x).sum(axis, keepdim))
        if p in (float("inf"), float("-inf")):  # the largest (smallest) magnitude
            return (ops.Max if p > 0 else ops.Min).apply(x.abs(), axis=axis, keepdims=keepdim, nan_is_extreme=True)
        return ops.PowerNorm.apply(x, p=p, axis=axis, keepdims=keepdim)

    def max(self, dim=None, keepdim=False):
        """max() of all elements; max(dim, keepdim) -> (values, indices); max(other) = maximum(self, other)."""
        return self._extreme(dim, keepdim, largest=True)

    def min(self, dim=None, keepdim=False):
        """min() of all elements; min(dim, keepdim) -> (values, indices); min(other) = minimum(self, other)."""
        return self._extreme(dim, keepdim, largest=False)

    def _extreme(self, dim, keepdim, largest):
        if isinstance(dim, Tensor):
            return (ops.Maximum if largest else ops.Minimum).apply(*self._operands(dim))
        if dim is None:
            return (ops.Max if largest else ops.Min).apply(self, only_at_extremes=True)
        if self.ndim == 0:  # the one element, at index 0
            _axis(dim, 0)
            return values_and_indices(self.clone(), Tensor._wrap(self._xp.zeros((), dtype=dtypes.int64)))
        values = ops.MaxAlongDim.apply(self, axis=dim, keepdims=keepdim, largest=largest)
        indices = (
            self._array.argmax(axis=dim, keepdims=keepdim)
            if largest
            else self._array.argmin(axis=dim, keepdims=keepdim)
        )
        return values_and_indices(values, Tensor._wrap(indices))  # bool too: argmax refuses it, max(dim) does not

    def amax(self, dim=(), keepdim=False):
        return ops.Max.apply(self, axis=_axis(dim if dim != () else None, self.ndim), keepdims=keepdim)

    def amin(self, dim=(), keepdim=False):
        return ops.Min.apply(self, axis=_axis(dim if dim != () else None, self.ndim), keepdims=keepdim)

    def argmax(self, dim=None, keepdim=False):
        dtypes.require(self.dtype, "fiu", "argmax")
        dim = _axis(dim, self.ndim)
        if dim is None and keepdim:
            return Tensor._wrap(self._array.reshape(-1).argmax().reshape((1,) * self.ndim))
        return Tensor._wrap(self._array.argmax(axis=dim, keepdims=keepdim))

    def argmin(self, dim=None, keepdim=False):
        dtypes.require(self.dtype, "fiu", "argmin")
        dim = _axis(dim, self.ndim)
        if dim is None and keepdim:
            return Tensor._wrap(self._array.reshape(-1).argmin().reshape((1,) * self.ndim))
        return Tensor._wrap(self._array.argmin(axis=dim, keepdims=keepdim))

    def all(self, dim=None, keepdim=False):
        return Tensor._wrap(self._array.all(axis=_axis(dim, self.ndim), keepdims=keepdim))

    def any(self, dim=None, keepdim=False):
        return Tensor._wrap(self._array.any(axis=_axis(dim, self.ndim), keepdims=keepdim))

    def softmax(self, dim):
        """exp(x) / sum(exp(x)) along dim: one op that saves its output, as PyTorch's (so a write into the
        output before backward is caught)."""
        if self.numel() == 0 and not dtypes.is_floating(self.dtype):  # PyTorch gives the empty tensor back
            return self.clone()
        dtypes.require(self.dtype, "f", "softmax")
        return ops.Softmax.apply(self, axis=dim)

    def log_softmax(self, dim):
        """x - log(sum(exp(x))) along dim: one op that saves its output, as PyTorch's (so a write into the
        output before backward is caught)."""
        if self.numel() == 0 and not dtypes.is_floating(self.dtype):
            return self.clone()
        dtypes.require(self.dtype, "f", "log_softmax")
        return ops.LogSoftmax.apply(self, axis=dim)

    # ----- shape ----------------------------------------------------------------------------------

    def reshape(self, *shape):
        """A view with another shape (a copy when the strides cannot express it); a new tensor even for
        the same shape, as PyTorch's (not a leaf when self is in the graph)."""
        shape = resolve_shape(_dims_tuple(shape), self.shape)
        return self._view(ops.Reshape, shape=shape)

    def is_contiguous(self):
        """True when the elements lie in memory in row-major order with no gaps (C order)."""
        return bool(self._array.flags.c_contiguous)

    def view(self, *shape):
        """The same storage seen with another shape; refuses (as PyTorch) when the strides cannot express it."""
        out = self.reshape(*shape)
        if out is not self and out._version_counter is not self._version_counter:  # reshape had to copy
            raise RuntimeError(
                f"view size is not compatible with input tensor's size and stride: a tensor of shape {self.shape} "
                f"that is not contiguous cannot be viewed as {out.shape}; use .reshape(...) instead"
            )
        return out

    def flatten(self, start_dim=0, end_dim=-1):
        """Dims start_dim..end_dim merged into one; self itself when that is one dim already (as PyTorch)."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = start_dim % self.ndim, end_dim % self.ndim
        if start == end:
            return self
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1 :])

    def permute(self, *dims):
        dims = tuple(d % self.ndim for d in _dims_tuple(dims))
        if sorted(dims) != list(range(self.ndim)):
            raise RuntimeError(f"permute: {dims} is not an ordering of the {self.ndim} dims of shape {self.shape}")
        return self._view(ops.Permute, dims=dims)

    def transpose(self, dim0, dim1):
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(dims)

    @property
    def T(self):
        return self.permute(tuple(reversed(range(self.ndim))))

    def unsqueeze(self, dim):
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dims = {d % self.ndim for d in (dim if isinstance(dim, tuple) else (dim,))}
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in dims and n == 1)))

    def expand(self, *sizes):
        sizes = _dims_tuple(sizes)
        offset = len(sizes) - self.ndim
        shape = tuple(self.shape[i - offset] if n == -1 else n for i, n in enumerate(sizes))
        return self._view(ops.Expand, shape=shape)

    def contiguous(self):
        """self when its data is in C order already, else a C-ordered copy (differentiable, as clone)."""
        return self if self._array.flags.c_contiguous else ops.Clone.apply(self, row_major=True)

    def __getitem__(self, key):
        key, is_basic = index_key(self, key)  # (a basic key ends in Ellipsis, so x[0] is a 0-d view)
        return self._view(ops.Index, key=key, is_basic=is_basic)

    def _view(self, op, **params):
        """op(self) for a view op. A result that looks into self's memory links to self, so that a write
        into it is one into self (tensor/in_place.py). Made under no_grad it is marked, as in PyTorch: it
        requires grad as self does (a leaf without grad_fn that never gets a .grad), and an in-place write
        to it with grad mode on is refused (which graph should it enter?)."""
        out = op.apply(self, **params)
        if out._version_counter is self._version_counter:
            out._view_of = (self, op, params)
            if not is_grad_enabled():
                in_place.mark_no_grad_view(out, self)
        return out

    # ----- what PyTorch programs use beyond the lecture (issue 10: conformance gaps) --------------------

    def __index__(self):
        """A one-element integer tensor as a Python int, so `data[i : i + 8]` works with i from randint."""
        if self._array.size != 1 or self.dtype.kind not in "iu":
            raise TypeError(
                f"only integer tensors of a single element can be converted to an index, got {self.dtype} of shape {self.shape}"
            )
        return int(self._array.item())

    def __int__(self):
        return int(self.item())

    def __float__(self):
        return float(self.item())

    def __format__(self, format_spec):
        """f"{loss:.4f}" formats a 0-d tensor's value, as PyTorch; other tensors format as their repr."""
        if self.ndim == 0:
            return format(self.item(), format_spec)
        return object.__format__(self, format_spec)

    def split(self, split_size_or_sections, dim=0):
        """Pieces along `dim`: each of split_size (the last may be smaller), or of the listed sizes."""
        dim = dim % max(self.ndim, 1)
        size = self.shape[dim]
        if isinstance(split_size_or_sections, (list, tuple)):
            sections = list(split_size_or_sections)
            if sum(sections) != size or any(n < 0 for n in sections):
                raise RuntimeError(
                    f"split: sizes {sections} must sum to {size}, the size of dim {dim} of shape {self.shape}"
                )
        else:
            step = int(split_size_or_sections)
            if step <= 0 and size > 0 or step < 0:
                raise RuntimeError(f"split: split_size must be positive, got {step}")
            sections = [min(step, size - start) for start in range(0, size, step)] if size else [0]
        pieces, start = [], 0
        for n in sections:
            pieces.append(self[(slice(None),) * dim + (slice(start, start + n),)])
            start += n
        return in_place.pieces(pieces, "split")

    def chunk(self, chunks, dim=0):
        """At most `chunks` pieces of ceil(size / chunks) along `dim` (fewer when that covers the dim)."""
        if chunks <= 0:
            raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        size = self.shape[dim % max(self.ndim, 1)]
        return self.split(max(-(-size // chunks), 1), dim)

    def unbind(self, dim=0):
        """The slices along dim, each without that dim: x.unbind(0) == tuple(x)."""
        dim = dim % max(self.ndim, 1)
        return in_place.pieces([self[(slice(None),) * dim + (i,)] for i in range(self.shape[dim])], "unbind")

    def is_floating_point(self):
        return dtypes.is_floating(self.dtype)

    def view_as(self, other):
        return self.view(other.shape)

    def expand_as(self, other):
        return self.expand(other.shape)

    def type_as(self, other):
        return self.to(other.dtype)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """The k largest (or smallest) elements along dim and their indices, as (values, indices).

        The result is always in sorted order (PyTorch leaves it unspecified when sorted=False)."""
        if self.dtype == dtypes.bool_:
            raise RuntimeError("topk does not support bool tensors (as PyTorch): convert with .int() first")
        dim = dim % max(self.ndim, 1)
        size = self.shape[dim] if self.ndim else 1
        if not 0 <= k <= size:
            raise RuntimeError(f"topk: k ({k}) is out of range for dim {dim} of size {size}")
        if self.ndim == 0:
            return values_and_indices(self[()] * 1, Tensor._wrap(self._xp.zeros((), dtype=dtypes.int64)))
        xp = self._xp
        order = xp.argsort(-self._array if largest else self._array, axis=dim, kind="stable")
        indices = xp.take(order, xp.arange(k), axis=dim).astype(dtypes.int64)
        # Pick the values with one advanced index per dim, so the gradient flows back through Index.
        # (like np.indices(sparse=True), which CuPy lacks: axis i's positions, shaped to broadcast along it)
        grids = [
            xp.arange(n).reshape([n if j == i else 1 for j in range(indices.ndim)]) for i, n in enumerate(indices.shape)
        ]
        grids[dim] = indices
        return values_and_indices(self[tuple(Tensor._wrap(g) for g in grids)], Tensor._wrap(indices))


make_outputs_of_class(Tensor)  # what Function.apply returns (tensor/autograd.py)

for _name in course_ops.REDUCTIONS_WITH_KEEPDIM:  # x.sum(1, keepdims=True), as PyTorch accepts
    setattr(Tensor, _name, course_ops.accepts_keepdims(getattr(Tensor, _name)))


# ----- torch.where, which Tensor methods use (tensor/creation.py exports it) ---------------------------


def where(condition, input, other):
    """input where condition is True, else other; input/other may be tensors or scalars."""
    if not isinstance(condition, Tensor) or condition.dtype != dtypes.bool_:
        raise TypeError(
            f"where needs a bool condition tensor, got {getattr(condition, 'dtype', type(condition).__name__)}"
        )
    dtype = dtypes.result_type(*[x._array if isinstance(x, Tensor) else x for x in (input, other)])
    a, b = (_as_tensor_of(x, dtype, condition) for x in (input, other))
    return ops.Where.apply(a, b, condition)


def _as_tensor_of(x, dtype, like):
    """x (a tensor or a Python scalar) as a tensor of dtype, on like's device."""
    if isinstance(x, Tensor):
        return x if x.dtype == dtype else x.to(dtype)
    return Tensor._wrap(like._xp.asarray(x, dtype=dtype))


def _cast(t, dtype, for_an_op=True):
    """t as `dtype`: a copy. For an op that promotes, the copy shares t's version counter, so that an
    in-place write to t after the op saved the copy is caught in backward, as PyTorch (which saves t)
    catches it; the copy `to(dtype)` returns (for_an_op=False) is a tensor of its own, as PyTorch's."""
    if t._array.dtype == dtype:
        return t
    if not dtypes.is_floating(dtype):  # integers and bools carry no gradient, so the result leaves the graph
        cast = Tensor._wrap(t._array.astype(dtype))
    else:
        cast = ops.Cast.apply(t, dtype=dtype)
    if for_an_op:
        cast._version_counter = t._version_counter
    return cast


def _divide_checked(a, b, symbol):
    """The checks of a // b and a % b: not on bools, and integer division by zero raises, as in PyTorch
    (NumPy would give 0); an empty result divides nothing, and raises nothing."""
    if a.dtype.kind == "b":
        raise TypeError(f"{symbol} is not defined for bool tensors (as PyTorch): convert with .int() first")
    if a.dtype.kind in "iu" and a.size > 0 and bool((b == 0).any()):
        raise ZeroDivisionError(f"integer division by zero in {a.dtype} {symbol} {b.dtype}")


def _is_no_grad_view(t):
    """Whether t is a view made under no_grad (Tensor._view_of_self); a subclass built without
    Tensor.__init__ (nn.Parameter) may not have set the slot: it is no such view."""
    return getattr(t, "_no_grad_view", False)


def _require_floating(x, name):
    if not dtypes.is_floating(x.dtype):
        raise RuntimeError(f"{name} needs a floating point tensor (as PyTorch), got {x.dtype}: convert with .float()")


def _axis(dim, ndim=None):
    """A reduction's dim as NumPy's axis: a list becomes a tuple; on a 0-d tensor dim 0 or -1 means all."""
    if ndim == 0 and dim is not None:
        for d in dim if isinstance(dim, (tuple, list)) else (dim,):
            if d not in (0, -1):
                raise IndexError(f"dimension out of range (expected to be in range of [-1, 0], but got {d})")
        return None
    return tuple(dim) if isinstance(dim, list) else dim
