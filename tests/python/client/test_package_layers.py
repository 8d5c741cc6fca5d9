"""The package reads top to bottom (docs/design.md, "Map of the package"): no module imports one that
imports it back, directly or around a circle, counting the imports inside functions too (they hid a
circle of six modules once). Imports under ``if TYPE_CHECKING:`` are annotations only and do not
count. No server needed."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "python" / "pgtrack"


def _modules():
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name, path, modules):
    """The package's modules that ``name`` imports anywhere but under TYPE_CHECKING."""
    tree = ast.parse(path.read_text())
    annotations_only = {id(node) for branch in ast.walk(tree)
                        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
                        for node in ast.walk(branch)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or id(node) in annotations_only or not node.level:
            continue
        base = package.split(".")[:len(package.split(".")) - node.level + 1]
        module = ".".join(base + ([node.module] if node.module else []))
        targets.update(t for t in [module, *(f"{module}.{a.name}" for a in node.names)] if t in modules)
    # a module's own packages are initialised before it anyway: importing them closes no circle
    return {t for t in targets if t != name and not name.startswith(t + ".") and t != "pgtrack"}


def _circles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_one_that_imports_it_back():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert sum(len(targets) for targets in graph.values()) > 100  # the walk found the imports at all
    assert _circles(graph) == []


def test_the_check_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
