"""The layout rules of the textbook and the engine room (issue 28), read from the source with `ast`.

- No import circle between modules (imports inside functions count), so each file reads, and imports,
  without the ones that build on it.
- The layers run one way: tensor/ imports nothing of nn/, tinygrad_gpt/ or benchmarks/; nn/ nothing of
  tinygrad_gpt/ or benchmarks/; tinygrad_gpt/ nothing of benchmarks/.
- Outside the fast/ folders no module imports ctypes or threadpoolctl, starts a thread, or imports from
  a fast/ folder (a package's __init__.py may, to install the engine room).
"""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("tensor", "nn", "tinygrad_gpt", "benchmarks")


def module_name(path):
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))}


def imported_modules(name):
    """The modules of this repository that module `name` imports, anywhere in its source."""
    path = MODULES[name]
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in MODULES and m != name}


def is_package(name):
    return MODULES[name].name == "__init__.py"


def import_circles():
    """Circles of modules importing each other (a package's __init__ re-exports, so edges to or from one
    are left out: importing `tensor` runs tensor/__init__.py, which imports everything by design)."""
    edges = {m: {t for t in imported_modules(m) if not is_package(t)} for m in MODULES if not is_package(m)}
    circles, done = [], set()
    for start in edges:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in edges[node]:
                if nxt == start:
                    circles.append(path)
                elif nxt not in path and nxt not in done:
                    stack.append((nxt, path + [nxt]))
        done.add(start)
    return circles


def test_the_finder_sees_an_import_inside_a_function_and_a_relative_one():
    assert "tensor.autograd" in imported_modules("tensor.tensor")  # from .autograd import ...
    assert "benchmarks.implementations" in imported_modules("benchmarks.worker")  # inside a function


def test_no_two_modules_import_each_other_even_inside_functions():
    assert import_circles() == []


@pytest.mark.parametrize(
    "package, not_above",
    [
        ("tensor", ("nn", "tinygrad_gpt", "benchmarks")),
        ("nn", ("tinygrad_gpt", "benchmarks")),
        ("tinygrad_gpt", ("benchmarks",)),
    ],
)
def test_the_layers_import_only_downwards(package, not_above):
    upward = {
        (m, t)
        for m in MODULES
        if m.split(".")[0] == package
        for t in imported_modules(m)
        if t.split(".")[0] in not_above
    }
    assert upward == set()


def textbook_modules():
    return [m for m in MODULES if m.split(".")[0] in ("tensor", "nn") and "fast" not in m.split(".")]


def test_outside_fast_no_module_imports_ctypes_or_threadpoolctl_or_starts_a_thread():
    offenders = []
    for name in textbook_modules():
        tree = ast.parse(MODULES[name].read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                if any(n and n.split(".")[0] in ("ctypes", "threadpoolctl") for n in names):
                    offenders.append((name, "imports", names))
            elif isinstance(node, ast.Attribute) and node.attr in ("Thread", "ThreadPoolExecutor"):
                offenders.append((name, "starts a thread", node.attr))
    assert offenders == []


def test_no_textbook_module_imports_from_the_engine_room_but_a_package_installing_it():
    offenders = {
        (m, t) for m in textbook_modules() if not is_package(m) for t in imported_modules(m) if "fast" in t.split(".")
    }
    assert offenders == set()
