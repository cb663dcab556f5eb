"""Hypothesis draws programs over the public surface, one line at a time.

Each line is drawn knowing PyTorch's state after the lines before it (the shapes and dtypes
its variables really have), so most lines are valid, and the ones that are not test that
both sides refuse. Data comes from Hypothesis (small exact values, ties, 0, inf, nan), never
from an RNG, so every program replays exactly.

Families: creation, elementwise (float, integer, bool), promotion with 0-d tensors and Python
scalars, reductions in positional and keyword forms, views and in-place writes under no_grad,
indexing, no_grad, backward (twice with retain_graph), nn.functional, and, with
`optimizers=True` (OPTIMIZER_FAMILIES), optimizers with their options and schedulers.
"""

import math

import torch
from hypothesis import strategies as st

from .harness import Session

FLOATS = [0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -1.5, 2.0, -2.0, 3.0, 0.25]
SPECIAL_FLOATS = [math.inf, -math.inf, math.nan]
INTS = [-3, -2, -1, 0, 1, 2, 3]
DTYPES = ["float32", "float64", "int64", "int32", "bool"]
# Optimizer programs, kept apart: enable them with optimizers=True (the optimizer rewrite, issue 31's
# maximize / nesterov+dampening / AdamW-on-0-d bullets, lands separately).
OPTIMIZER_FAMILIES = ("sgd", "adam", "adamw")


def literal(value):
    """Python source for a number or a nested list of numbers (inf and nan spelled so eval reads them)."""
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"
    return repr(value)


class Drawer:
    """Draws lines for one program from Hypothesis's `draw`, reading PyTorch's state from `namespace`."""

    def __init__(self, draw, namespace):
        self.draw, self.namespace, self.count = draw, namespace, 0

    # ----- small draws ------------------------------------------------------------------------------

    def pick(self, options):
        return self.draw(st.sampled_from(list(options)))

    def integer(self, low, high):
        return self.draw(st.integers(low, high))

    def chance(self, percent):
        return self.draw(st.integers(0, 99)) < percent

    def new_name(self):
        name = f"v{self.count}"
        self.count += 1
        return name

    def tensors(self, where=lambda t: True):
        return [name for name, value in self.namespace.items() if isinstance(value, torch.Tensor) and where(value)]

    def has_views(self, t):
        """Whether a variable looks into t's memory: PyTorch's views without history then follow t's later
        requires_grad_(), which ours made in grad mode do not: not drawn (a known divergence, docs/pytorch_api.md)."""
        storage = t.untyped_storage().data_ptr()
        return any(u is not t and u.untyped_storage().data_ptr() == storage for u in self.all_tensors())

    def all_tensors(self):
        """Every tensor the program holds, in tuples too (unbind, split, max(dim))."""
        for value in self.namespace.values():
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, torch.Tensor):
                    yield item

    def dim(self, t, allow_none=False):
        """A valid dim of t (negative ones too), or None."""
        if allow_none and self.chance(20):
            return None
        if t.ndim == 0:
            return self.pick([0, -1]) if not allow_none else None
        return self.integer(-t.ndim, t.ndim - 1)

    def number(self, dtype):
        if dtype == "bool":
            return self.pick([True, False])
        if dtype.startswith("int"):
            return self.pick(INTS)
        return self.pick(FLOATS + SPECIAL_FLOATS) if self.chance(8) else self.pick(FLOATS)

    def scalar(self):
        """A Python scalar operand: bool, int or float."""
        return self.pick([True, 2, -1, 0, 1.5, 0.5, -2.0, 3])

    # ----- creation ---------------------------------------------------------------------------------

    def leaf(self):
        name, dtype = self.new_name(), self.pick(DTYPES)
        shape = tuple(self.integer(1, 3) for _ in range(self.integer(0, 3)))
        if self.chance(6):
            shape = (*shape[:-1], 0) if shape else (0,)
        grad = dtype.startswith("float") and self.chance(70)
        flag = ", requires_grad=True" if grad else ""
        kind = self.integer(0, 9)
        if 0 in shape or kind == 0:
            return f"{name} = torch.{self.pick(['zeros', 'ones'])}({shape}, dtype=torch.{dtype}{flag})"
        if kind == 1 and len(shape) == 1 and dtype != "bool":
            return f"{name} = torch.arange({shape[0]}, dtype=torch.{dtype}){'.requires_grad_()' if grad else ''}"
        count = math.prod(shape)
        values = [self.number(dtype) for _ in range(count)]
        nested = _nest(values, shape)
        return f"{name} = torch.tensor({literal(nested)}, dtype=torch.{dtype}{flag})"

    # ----- one line after the leaves -------------------------------------------------------------------

    def line(self):
        family = self.pick(
            ["binary"] * 5
            + ["unary"] * 3
            + ["reduction"] * 5
            + ["view"] * 4
            + ["index"] * 2
            + ["in_place"] * 3
            + ["grad"] * 3
            + ["functional"] * 2
            + ["misc"]
        )
        names = self.tensors()
        if not names:
            return self.leaf()
        a = self.pick(names)
        return getattr(self, family)(a, self.namespace[a])

    def operand(self, t, apart=False):
        """Another tensor that broadcasts with t, a 0-d tensor, or a Python scalar. apart: not sharing
        t's memory (an in-place write reading its own memory has no defined result in PyTorch)."""
        kind = self.integer(0, 9)
        if kind < 4:
            storage = t.untyped_storage().data_ptr()
            partners = self.tensors(
                lambda u: _broadcasts(u.shape, t.shape) and not (apart and u.untyped_storage().data_ptr() == storage)
            )
            if partners:
                return self.pick(partners)
        if kind < 6:
            dtype = self.pick(DTYPES)
            return f"torch.tensor({literal(self.number(dtype))}, dtype=torch.{dtype})"
        return literal(self.scalar())

    def binary(self, a, t):
        b = self.operand(t)
        form = self.integer(0, 11)
        if form == 0:
            return f"{self.new_name()} = {b} {self.pick(['+', '-', '*', '/', '**'])} {a}"
        if form == 1:
            return f"{self.new_name()} = torch.{self.pick(['maximum', 'minimum', 'max', 'min'])}({a}, {b if not b[0].isdigit() and b[0] not in '-T' else f'torch.tensor({b})'})"
        if form == 2:
            condition = self.pick(
                self.tensors(lambda u: u.dtype == torch.bool and _broadcasts(u.shape, t.shape)) or [f"{a} > 0"]
            )
            return f"{self.new_name()} = torch.where({condition}, {a}, {b})"
        if form == 3:
            return f"{self.new_name()} = {a}.{self.pick(['add', 'sub', 'mul', 'div', 'pow'])}({b})"
        op = self.pick(["+", "-", "*", "/", "**", "//", "%", "==", "<", ">=", "!=", "&", "|"])
        return f"{self.new_name()} = {a} {op} {b}"

    def unary(self, a, t):
        form = self.pick(
            [
                "-{a}",
                "{a}.exp()",
                "{a}.log()",
                "{a}.sqrt()",
                "{a}.tanh()",
                "{a}.sin()",
                "{a}.cos()",
                "{a}.sigmoid()",
                "{a}.relu()",
                "{a}.abs()",
                "{a} ** 2",
                "{a} ** 0",
                "{a} ** 0.5",
                "{a} ** 3",
                "{a}.float()",
                "{a}.double()",
                "{a}.int()",
                "{a}.long()",
                "{a}.bool()",
                "{a}.clone()",
                "{a}.detach()",
                "~{a}",
                "torch.tril({a})",
                "torch.triu({a}, 1)",
                "{a}.masked_fill({a} > 0, 0.5)",
                "{a}.softmax({d})",
                "{a}.log_softmax({d})",
                "torch.abs({a})",
                "torch.exp({a})",
                "{a}.erf()",
                "{a}.clamp(-0.5, 1.0)",
                "{a}.clamp(min=0.25)",
                "{a}.clip(max=0.5)",
                "{a}.cumsum({d})",
                "{a}.roll(1, {d})",
                "{a}.flip({d})",
            ]
        )
        return f"{self.new_name()} = " + form.format(a=a, d=self.dim(t))

    def reduction(self, a, t):
        op = self.pick(
            ["sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "all", "any", "norm"]
            + ["logsumexp"]
        )
        d, keep = self.dim(t), self.pick([True, False])
        if op in ("var", "std"):
            unbiased = self.pick([True, False])
            form = self.pick(
                [
                    "{a}.{op}()",
                    "{a}.{op}({d})",
                    "{a}.{op}({d}, {u})",
                    "{a}.{op}({d}, {u}, {k})",
                    "{a}.{op}({u})",
                    "{a}.{op}({d}, keepdim={k})",
                    "{a}.{op}({d}, correction={c})",
                    "torch.{op}({a}, None, {u})",
                    "torch.{op}({a}, {d}, {u}, {k})",
                    "{a}.{op}(unbiased={u})",
                    "{a}.{op}(dim={d}, unbiased={u}, keepdim={k})",
                ]
            )
            return f"{self.new_name()} = " + form.format(a=a, op=op, d=d, u=unbiased, k=keep, c=self.integer(0, 2))
        if op == "norm":
            p = self.pick(["1", "2", "3", "0", "float('inf')", "float('-inf')", "'fro'", "0.5"])
            form = self.pick(
                [
                    "{a}.norm()",
                    "{a}.norm({p})",
                    "{a}.norm({p}, {d})",
                    "{a}.norm({p}, {d}, {k})",
                    "{a}.norm(p={p})",
                    "torch.norm({a}, {p}, {d})",
                    "{a}.norm(dim={d}, keepdim={k})",
                ]
            )
            return f"{self.new_name()} = " + form.format(a=a, p=p, d=d, k=keep)
        if op == "logsumexp":  # dim is required
            form = self.pick(
                ["{a}.{op}({d})", "{a}.{op}({d}, {k})", "torch.{op}({a}, {d})", "{a}.{op}(dim={d}, keepdim={k})"]
            )
            return f"{self.new_name()} = " + form.format(a=a, op=op, d=d, k=keep)
        forms = [
            "{a}.{op}()",
            "{a}.{op}({d})",
            "{a}.{op}({d}, {k})",
            "{a}.{op}(dim={d}, keepdim={k})",
            "torch.{op}({a}, {d})",
            "torch.{op}({a})",
        ]
        if op in ("max", "min"):
            forms += [
                "{a}.{op}({d})[0]",
                "{a}.{op}({d}).indices",
                "{a}.{op}({d}, {k}).values",
                "torch.{op}({a}, dim={d})[1]",
            ]
        if op in ("sum", "mean"):
            forms += ["{a}.{op}(dtype=torch.float64)", "{a}.{op}(({d},), {k})"]
            if t.ndim >= 2:
                forms += ["{a}.{op}((0, 1))", "{a}.{op}([-1, 0], {k})"]
        return f"{self.new_name()} = " + self.pick(forms).format(a=a, op=op, d=d, k=keep)

    def view(self, a, t):
        n = t.ndim
        forms = [
            "{a}.reshape({shape})",
            "{a}.reshape(-1)",
            "{a}.view(-1)",
            "{a}.flatten()",
            "{a}.squeeze()",
            "{a}.unsqueeze({d1})",
            "{a}.contiguous()",
            "{a}.view({shape})",
            "{a}.detach()",
        ]
        if _laid_out_by_an_op(t):  # flattened: a view here, a refusal or a copy in PyTorch (docs/pytorch_api.md)
            forms = [form for form in forms if form not in FLATTENING]
        if n:
            forms += [
                "{a}.squeeze({d})",
                "{a}.transpose({d}, {d2})",
                "{a}.permute({perm})",
                "{a}.unbind({d})[{i}]",
                "{a}.split({k}, {d})[{i}]",
                "{a}.chunk({k}, {d})[{i}]",
                "{a}.unbind({d})",
                "{a}.split({k}, {d})",
                "{a}.expand({expanded})",
                "{a}.expand_as({a})",
                "{a}.split([{s0}, {s1}], {d})[1]",
            ]
        if n == 2:
            forms += ["{a}.T"]
        d = self.dim(t)
        size = t.shape[d] if n else 1
        cut = self.integer(0, size) if n else 0
        perm = list(range(n))
        if n:
            perm = self.draw(st.permutations(perm))
        expanded = tuple(self.pick([1, 2]) if s == 1 else s for s in t.shape)
        return f"{self.new_name()} = " + self.pick(forms).format(
            a=a,
            shape=tuple(t.shape),
            d=d,
            d1=self.integer(-n - 1, n),
            d2=self.dim(t),
            perm=tuple(perm),
            i=self.integer(0, max(size - 1, 0)),
            k=self.integer(1, 3),
            expanded=(self.pick([1, 2]), *expanded) if self.chance(30) else expanded,
            s0=cut,
            s1=size - cut,
        )

    def index(self, a, t):
        n = t.ndim
        forms = (
            ["{a}[None]", "{a}[True]", "{a}[...]", "{a}[{a} > 0]"]
            if n == 0
            else [
                "{a}[{i}]",
                "{a}[{i}:{j}]",
                "{a}[..., {last}]",
                "{a}[None]",
                "{a}[True]",
                "{a}[[{i}, {i}]]",
                "{a}[{a} > 0]",
                "{a}[torch.tensor([{i}, {j2}])]",
                "{a}[-1]",
                "{a}[::2]",
                "{a}[{i}, ...]",
            ]
        )
        if n >= 2:
            forms += ["{a}[:, {i2}]", "{a}[{i}, {i2}]", "{a}[[{i}], [{i2}]]", "{a}[{i}][{i2}]"]
        size = t.shape[0] if n else 1
        if n and size == 0:
            forms = ["{a}[None]", "{a}[True]", "{a}[0:0]"]
        i = self.integer(0, max(size - 1, 0))
        return f"{self.new_name()} = " + self.pick(forms).format(
            a=a,
            i=i,
            j=self.integer(i, size),
            j2=self.integer(0, max(size - 1, 0)),
            last=self.integer(0, max(t.shape[-1] - 1, 0)) if n else 0,
            i2=self.integer(0, max(t.shape[1] - 1, 0)) if n >= 2 else 0,
        )

    def in_place(self, a, t):
        b = self.operand(t, apart=True)
        write = self.pick(
            [
                "{a}.add_({b})",
                "{a}.sub_({b})",
                "{a}.mul_({b})",
                "{a}.div_({b})",
                "{a}.zero_()",
                "{a}.fill_({s})",
                "{a}.clamp_(-1.0, 1.0)",
                "{a}.clamp_(min=0)",
                "{a}.copy_({b})",
                "{a}[{idx}] = {s}",
                "{a}[{idx}] = {b}",
                "{a}[{a} > 0] = {s}",
                "{a} += {b}",
                "{a} *= {s}",
            ]
        )
        idx = self.pick(["0", "...", "0:1", "[0]", "-1"]) if t.ndim else "..."
        line = write.format(a=a, b=b, s=literal(self.scalar()), idx=idx)
        mode = self.integer(0, 9)
        if mode < 7:
            return f"with torch.no_grad(): {line}"
        if mode < 8:
            return line  # in grad mode: both may refuse, or PyTorch records it (our gap)
        views = ["{a}[0]", "{a}.view(-1)", "{a}.unbind(0)[0]", "{a}.reshape(-1)", "{a}.T", "{a}[None]"]
        views += ["{a}.split(1)[0]", "{a}.unsqueeze(0).squeeze()", "{a}.expand_as({a})", "{a}[..., :1]"]
        if _laid_out_by_an_op(t):
            views = [form for form in views if form not in FLATTENING]
        view = self.pick(views).format(a=a)
        if mode < 9:
            return f"with torch.no_grad(): {self.new_name()} = {view}"  # the view, for a later in-place write
        return f"{self.new_name()} = {view}"  # a view in grad mode, for a later write through it

    def grad(self, a, t):
        if not t.requires_grad:
            if t.dtype.is_floating_point and t.is_leaf and not self.has_views(t) and self.chance(50):
                return f"{a}.requires_grad_()"
            floats = self.tensors(lambda u: u.requires_grad)
            if not floats:
                return f"{self.new_name()} = {a}.sum()"
            a = self.pick(floats)
            t = self.namespace[a]
        form = self.pick(
            [
                "{a}.sum().backward()",
                "{a}.sum().backward(retain_graph=True)",
                "({a} * {a}).sum().backward()",
                "{a}.backward(torch.ones_like({a}))",
                "{a}.mean().backward(retain_graph=True)",
                "{a}.requires_grad_(False)",
                "with torch.no_grad(): {n} = {a} * 2",
                "{n} = {a}.detach().requires_grad_()",
                "{n} = {a}.grad",
                "{a}.backward()",
            ]
        )
        return form.format(a=a, n=self.new_name())

    def functional(self, a, t):
        d = self.dim(t)
        forms = [
            "F.softmax({a}, {d})",
            "F.log_softmax({a}, {d})",
            "F.relu({a})",
            "F.gelu({a})",
            "F.dropout({a}, p=0.0)",
            "torch.softmax({a}, {d})",
            "torch.log_softmax({a}, {d})",
            "F.mse_loss({a}, {a}.detach() * 0.5)",
            "F.mse_loss({a}, torch.zeros_like({a}), reduction='sum')",
        ]
        if t.ndim:
            forms.append("F.layer_norm({a}, ({last},))")
        if t.ndim == 2 and t.shape[1]:
            targets = [self.integer(0, t.shape[1] - 1) for _ in range(t.shape[0])]
            forms.append(f"F.cross_entropy({{a}}, torch.tensor({targets}))")
        return f"{self.new_name()} = " + self.pick(forms).format(a=a, d=d, last=t.shape[-1] if t.ndim else 1)

    def misc(self, a, t):
        forms = [
            "{n} = {a}.tolist()",
            "{n} = {a}.dim()",
            "{n} = {a}.is_leaf",
            "{n} = {a}.requires_grad",
            "{n} = {a}.numel()",
            "{n} = torch.cat([{a}, {a}])",
            "{n} = torch.stack([{a}, {a}], -1)",
            "{n} = {a}.to(torch.float64)",
            "{n} = {a}.type_as({b})",
            "{n} = torch.zeros_like({a})",
        ]
        if t.numel() == 1:
            forms += ["{n} = {a}.item()", "{n} = float({a})", "{n} = bool({a})"]
        return self.pick(forms).format(a=a, n=self.new_name(), b=self.pick(self.tensors()))

    # ----- optimizers and schedulers -------------------------------------------------------------------

    def optimizer_program(self):
        """Leaves, an optimizer with drawn options, maybe a scheduler, then steps on a fixed loss."""
        lines = []
        params = []
        for _ in range(self.integer(1, 2)):
            name = self.new_name()
            shape = self.pick(["", "3", "2, 2"])
            values = [self.pick(FLOATS) for _ in range({"": 1, "3": 3, "2, 2": 4}[shape])]
            source = (
                literal(values[0]) if shape == "" else literal(_nest(values, tuple(int(s) for s in shape.split(", "))))
            )
            lines.append(
                f"{name} = torch.tensor({source}, dtype=torch.{self.pick(['float32', 'float64'])}, requires_grad=True)"
            )
            params.append(name)
        family = self.pick(OPTIMIZER_FAMILIES)
        lr = self.pick([0.1, 0.01, 0.5])
        if family == "sgd":
            momentum = self.pick([0.0, 0.9])
            nesterov = momentum > 0 and self.chance(40)
            options = dict(
                lr=lr,
                momentum=momentum,
                dampening=self.pick([0.0, 0.0, 0.5]),
                nesterov=nesterov,
                weight_decay=self.pick([0.0, 0.1]),
                maximize=self.pick([False, True]),
            )
            constructor = "SGD"
        else:
            options = dict(
                lr=lr,
                betas=self.pick([(0.9, 0.999), (0.5, 0.9)]),
                eps=self.pick([1e-8, 1e-3]),
                weight_decay=self.pick([0.0, 0.1]),
                amsgrad=self.pick([False, True]),
                maximize=self.pick([False, True]),
            )
            constructor = "Adam" if family == "adam" else "AdamW"
        arguments = ", ".join(f"{key}={value!r}" for key, value in options.items())
        lines.append(f"opt = torch.optim.{constructor}([{', '.join(params)}], {arguments})")
        scheduler = self.pick(
            [
                None,
                "StepLR(opt, step_size=2, gamma=0.5)",
                "CosineAnnealingLR(opt, T_max=3)",
                "LinearLR(opt, start_factor=0.5, total_iters=2)",
                "LambdaLR(opt, lambda epoch: 1.0 / (epoch + 1))",
            ]
        )
        if scheduler:
            lines.append(f"sched = torch.optim.lr_scheduler.{scheduler}")
        weights = [self.pick(FLOATS) for _ in params]
        loss = " + ".join(f"({p} * {p} * {w!r} + {p}).sum()" for p, w in zip(params, weights))
        for _ in range(self.integer(1, 4)):
            lines += ["opt.zero_grad()", f"({loss}).backward()", "opt.step()"]
            if scheduler:
                lines += ["sched.step()", f"lr{len(lines)} = opt.param_groups[0]['lr']"]
        return lines


def _nest(values, shape):
    if not shape:
        return values[0]
    step = math.prod(shape[1:])
    return [_nest(values[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


FLATTENING = ("{a}.view(-1)", "{a}.reshape(-1)", "{a}.flatten()")


def _laid_out_by_an_op(t):
    """Whether PyTorch's t (or the tensor it is a view of) is an op's result laid out other than row by row:
    an elementwise op of a transposed and a row-major operand follows the first only in PyTorch, so
    flattening it may give a view here where PyTorch refuses view(-1) or copies (docs/pytorch_api.md)."""
    root = t if t._base is None else t._base
    return not root.is_contiguous()


def _broadcasts(a, b):
    return all(x == y or x == 1 or y == 1 for x, y in zip(reversed(a), reversed(b)))


def run_drawn_program(draw, session, max_lines=12, optimizers=False):
    """Draw a program line by line, running each line on both sides as it is drawn (Divergence propagates)."""
    drawer = Drawer(draw, session.expected)
    if optimizers and drawer.chance(30):
        for line in drawer.optimizer_program():
            session.run(line)
            if session.stopped:
                return session
        return session
    for _ in range(drawer.integer(1, 3)):
        session.run(drawer.leaf())
        if session.stopped:
            return session
    for _ in range(drawer.integer(1, max_lines)):
        session.run(drawer.line())
        if session.stopped:
            break
    return session


def programs(max_lines=12, optimizers=False, sides=None):
    """A strategy for finished Sessions: draws and runs a whole program (a Divergence raises inside the draw)."""

    @st.composite
    def strategy(draw):
        session = Session(*sides) if sides else Session()
        return run_drawn_program(draw, session, max_lines, optimizers)

    return strategy()
