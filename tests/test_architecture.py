"""The shape of the code: commands above the library, and no import cycles (imports inside functions count)."""

import ast
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "tfgen"
# ``python -m tfgen``, ``python -m tfgen.evaluate`` and ``python -m tfgen.explore`` are commands by another name.
ENTRY_POINTS = {"tfgen.__main__", "tfgen.evaluate", "tfgen.explore"}
# The registry imports tfgen.models to let every model module register itself; those modules import the registry.
ALLOWED = {("tfgen.registry", "tfgen.models")}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """tfgen module -> the tfgen modules it imports anywhere in its body."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                # ``from tfgen import data`` imports the module tfgen.data; ``from tfgen import train`` the package.
                targets |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                            for a in node.names}
        graph[name] = {t for t in targets if t in modules and t != name and (name, t) not in ALLOWED}
    return graph


def test_the_library_never_imports_a_command():
    graph = import_graph()
    library = [m for m in graph if not m.startswith("tfgen.commands") and m not in ENTRY_POINTS]
    assert len(library) > 20
    offenders = {m: sorted(t for t in graph[m] if t.startswith("tfgen.commands") or t in ENTRY_POINTS)
                 for m in library}
    assert {m: t for m, t in offenders.items() if t} == {}


def test_there_is_no_import_cycle_but_the_registrys():
    graph = import_graph()
    cycles = []
    state: dict[str, str] = {}  # "open" while on the DFS path, "done" after

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


@pytest.mark.parametrize("module", ["tfgen", "tfgen.api", "tfgen.config", "tfgen.rundir"])
def test_the_api_imports_without_tensorflow(module):
    import subprocess
    import sys

    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_no_module_outside_the_models_names_a_model():
    """Code outside tfgen/models/ asks the contract (capabilities, counterpart), never for a model by its name.

    (Help texts may still use a model in an example; a string that is exactly a model's name is code naming it.)
    """
    from tfgen import registry

    names = set(registry.names())
    found = [f"{module_name(path)}:{node.lineno}: {node.value!r}"
             for path in PACKAGE.rglob("*.py") if path.parent.name != "models"
             for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Constant) and node.value in names]
    assert found == []


def test_the_code_passes_ruff_with_its_blank_line_rules():
    """The style CI holds the code to: pyproject.toml's ruff rules, the blank-line rules (E30x) among them."""
    import subprocess
    import sys

    pytest.importorskip("ruff")  # installed with the test extras
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "tfgen", "tests", "bench", "train.py"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]


HEAVY = {"tensorflow", "keras", "PIL", "matplotlib", "mlxtend", "fcntl"}  # slow to import, or not on every OS


def test_an_import_inside_a_function_defers_a_heavy_module():
    """A function imports only what ``import tfgen`` must not pay for: TensorFlow, Keras, PIL, matplotlib, mlxtend,
    fcntl (POSIX only), a tfgen module that imports one of them at its top, or a command (dispatched when run)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    top: dict[str, set[str]] = {}
    inner: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        nested = {id(i) for f in functions for i in ast.walk(f) if isinstance(i, (ast.Import, ast.ImportFrom))}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                         for a in node.names}
            else:
                continue
            (inner if id(node) in nested else top).setdefault(name, set()).update(names)

    def heavy(module: str, seen=()) -> bool:
        if module.split(".")[0] in HEAVY:
            return True
        return module in modules and module not in seen and any(heavy(m, (*seen, module)) for m in top.get(module, ()))

    light = {m: sorted(t for t in targets if not heavy(t) and not t.startswith("tfgen.commands")
                       and (m, t) not in ALLOWED)
             for m, targets in inner.items()}
    assert {m: t for m, t in light.items() if t} == {}
