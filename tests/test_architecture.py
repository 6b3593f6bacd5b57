"""The rules of docs/architecture.md, checked on the source: a change that breaks one fails here.

Each rule reads the package's Python files with ``ast`` (no imports run), so a rule holds for
code paths no other test reaches. ``test_the_rules_can_fail`` plants a violation of each rule
in a copy of the package and checks that the rule reports it.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "daemon"

# The rooms, lowest first. A module may import its own room and the rooms below it, never one
# above. ``sandbox`` stands apart: it imports nothing of the project and nothing imports it
# but the CLI, the demo and the harness that tests use.
ROOMS: tuple[tuple[str, ...], ...] = (
    ("daemon", "daemon.errors", "daemon.gcpause", "daemon.redact"),  # the base: stdlib only
    ("daemon.core",),  # pure: data in, data out
    ("daemon.tree", "daemon.clients"),  # the brand's files offline; the remotes at the edge
    ("daemon.store",),  # the state directory
    ("daemon.notify", "daemon.remotes"),
    ("daemon.reconcile", "daemon.orders"),  # acting
    ("daemon.service",),  # the daemon process
    ("daemon.demo",),
    ("daemon.cli", "daemon.__main__"),
)
SANDBOX = "daemon.sandbox"
SANDBOX_USERS = ("daemon.cli", "daemon.demo")

# The core reads no clock, disk, network or process state, and logs nothing.
CORE_FORBIDDEN_IMPORTS = frozenset(
    {
        "os", "sys", "time", "logging", "socket", "subprocess", "threading", "multiprocessing",
        "random", "uuid", "shutil", "tempfile", "pathlib", "io", "sqlite3", "sqlite_utils",
        "httpx", "httpcore", "yaml", "jsonschema", "watchdog", "starlette",
        "uvicorn", "smtplib", "fcntl", "signal", "asyncio", "concurrent",
    }
)  # fmt: skip
# The model's small values are msgspec structs; decoding and encoding stay at the edge.
CORE_FORBIDDEN_SUBMODULES = frozenset(
    {"msgspec.json", "msgspec.msgpack", "msgspec.yaml", "msgspec.toml"}
)
CLOCK_CALLS = frozenset({"now", "today", "utcnow", "time", "monotonic", "perf_counter"})
HTTP_MODULES = ("httpx", "httpcore")
HTTP_ROOMS = ("daemon.clients", "daemon.notify")
PRINTERS = frozenset({"print"})
ECHO_ATTRS = frozenset({"echo", "secho"})  # typer.echo, click.echo


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module

    def imports(self) -> list[tuple[str, int]]:
        """Every imported module name (absolute), with its line; relative imports resolved."""
        found: list[tuple[str, int]] = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                found += [(alias.name, node.lineno) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = self.name.split(".")
                    if self.path.name != "__init__.py":
                        package = package[:-1]
                    package = package[: len(package) - node.level + 1]
                    base = ".".join([*package, *([base] if base else [])])
                found.append((base, node.lineno))
                # ``from daemon.core import gtin`` imports the module daemon.core.gtin
                found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
        return found


def load_modules(package: Path = PACKAGE) -> dict[str, Module]:
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        modules[name] = Module(name, path, ast.parse(path.read_text(), str(path)))
    return modules


def in_room(name: str, room: str) -> bool:
    """``daemon`` is the package's own ``__init__``; every other room holds its submodules."""
    return name == room or (room != "daemon" and name.startswith(room + "."))


def room_of(name: str) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    for rank, rooms in enumerate(ROOMS):
        for room in rooms:
            if in_room(name, room) and (best is None or len(room) > len(best[1])):
                best = (rank, room)
    return best


def ours(name: str, modules: dict[str, Module]) -> str | None:
    """The project module an import names, or None for the stdlib and libraries."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


# ----------------------------------------------------------------------------- the rules


def core_io(modules: dict[str, Module]) -> list[str]:
    problems = []
    for module in modules.values():
        if not in_room(module.name, "daemon.core"):
            continue
        for name, line in module.imports():
            if name.split(".")[0] in CORE_FORBIDDEN_IMPORTS or name in CORE_FORBIDDEN_SUBMODULES:
                problems.append(f"{module.path.name}:{line} imports {name}")
            target = ours(name, modules)
            if target and not (
                in_room(target, "daemon.core") or target in ("daemon", "daemon.errors")
            ):
                problems.append(f"{module.path.name}:{line} imports {target} from outside the core")
        for node in ast.walk(module.tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in CLOCK_CALLS
            ):
                problems.append(
                    f"{module.path.name}:{node.lineno} reads a clock (.{node.func.attr}())"
                )
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "open"
            ):
                problems.append(f"{module.path.name}:{node.lineno} opens a file")
    return problems


def http_outside_edge(modules: dict[str, Module]) -> list[str]:
    return [
        f"{module.name}:{line} imports {name}"
        for module in modules.values()
        if not any(in_room(module.name, room) for room in HTTP_ROOMS)
        and not in_room(module.name, SANDBOX)
        for name, line in module.imports()
        if name.split(".")[0] in HTTP_MODULES
    ]


def printing_outside_cli(modules: dict[str, Module]) -> list[str]:
    problems = []
    for module in modules.values():
        if in_room(module.name, "daemon.cli"):
            continue
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name) and func.id in PRINTERS:
                problems.append(f"{module.name}:{node.lineno} calls print()")
            elif isinstance(func, ast.Attribute) and func.attr in ECHO_ATTRS:
                problems.append(f"{module.name}:{node.lineno} calls .{func.attr}()")
            elif (
                isinstance(func, ast.Attribute)
                and func.attr == "write"
                and isinstance(func.value, ast.Attribute)
                and func.value.attr in ("stdout", "stderr")
            ):
                problems.append(f"{module.name}:{node.lineno} writes to sys.{func.value.attr}")
    return problems


def sandbox_apart(modules: dict[str, Module]) -> list[str]:
    problems = []
    for module in modules.values():
        for name, line in module.imports():
            target = ours(name, modules)
            if target is None or target == "daemon":
                continue
            if in_room(module.name, SANDBOX) and not in_room(target, SANDBOX):
                problems.append(f"{module.name}:{line} (sandbox) imports {target}")
            if (
                in_room(target, SANDBOX)
                and not in_room(module.name, SANDBOX)
                and not any(in_room(module.name, user) for user in SANDBOX_USERS)
            ):
                problems.append(f"{module.name}:{line} imports the sandbox ({target})")
    return problems


def upward_imports(modules: dict[str, Module]) -> list[str]:
    problems = []
    for module in modules.values():
        mine = room_of(module.name)
        if mine is None:
            continue
        for name, line in module.imports():
            target = ours(name, modules)
            theirs = room_of(target) if target else None
            if theirs is not None and theirs[0] > mine[0]:
                above = f"a room above it ({mine[1]} < {theirs[1]})"
                problems.append(f"{module.name}:{line} imports {target}, {above}")
    return problems


def import_cycles(modules: dict[str, Module]) -> list[str]:
    """Cycles among module-level imports (imports inside functions run later and are not
    part of loading a module; ``if TYPE_CHECKING:`` imports never run)."""
    graph: dict[str, set[str]] = {}
    for module in modules.values():
        edges = graph.setdefault(module.name, set())
        for node in module.tree.body:
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            alone = Module(module.name, module.path, ast.Module(body=[node], type_ignores=[]))
            for name, _ in alone.imports():
                target = ours(name, modules)
                # a submodule importing its own package's __init__ is how packages load
                if target and target != module.name and not module.name.startswith(target + "."):
                    edges.add(target)
    problems: list[str] = []
    state = dict.fromkeys(graph, 0)  # 0 unseen, 1 on the current path, 2 done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph.get(name, ())):
            if state.get(target) == 1:
                problems.append(" -> ".join([*path[path.index(target) :], target]))
            elif state.get(target) == 0:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if state[name] == 0:
            visit(name, [name])
    return problems


MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 300


def module_size(modules: dict[str, Module]) -> list[str]:
    """Modules outside the sandbox stay under ``MAX_MODULE_LINES`` lines: past that, a module
    holds more than one idea and wants splitting along a seam (docs/architecture.md)."""
    return [
        f"{module.name} has {lines} lines (at most {MAX_MODULE_LINES})"
        for module in modules.values()
        if not in_room(module.name, SANDBOX)
        and (lines := len(module.path.read_text().splitlines())) > MAX_MODULE_LINES
    ]


def class_size(modules: dict[str, Module]) -> list[str]:
    """Classes outside the sandbox stay under ``MAX_CLASS_LINES`` lines (decorators and
    docstring included): a class past that has become a manager of several jobs."""
    return [
        f"{module.name}:{node.lineno} class {node.name} has {lines} lines"
        f" (at most {MAX_CLASS_LINES})"
        for module in modules.values()
        if not in_room(module.name, SANDBOX)
        for node in ast.walk(module.tree)
        if isinstance(node, ast.ClassDef)
        and (lines := (node.end_lineno or node.lineno) - node.lineno + 1) > MAX_CLASS_LINES
    ]


RULES = {
    "core_io": core_io,
    "http_outside_edge": http_outside_edge,
    "printing_outside_cli": printing_outside_cli,
    "sandbox_apart": sandbox_apart,
    "upward_imports": upward_imports,
    "import_cycles": import_cycles,
    "module_size": module_size,
    "class_size": class_size,
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_package_keeps_the_rule(rule: str) -> None:
    assert sorted(set(RULES[rule](load_modules()))) == []


def test_every_module_is_in_a_room() -> None:
    outside = [n for n in load_modules() if room_of(n) is None and not in_room(n, SANDBOX)]
    assert outside == []


# A violation of each rule, planted in a copy of the package: (file, code appended).
PLANTED = {
    "core_io": ("core/plan.py", "import time\n"),
    "http_outside_edge": ("store/history.py", "import httpx\n"),
    "printing_outside_cli": ("reconcile/__init__.py", "def _shout() -> None:\n    print('hi')\n"),
    "sandbox_apart": ("sandbox/store.py", "from daemon.core import model\n"),
    "upward_imports": ("core/gtin.py", "from daemon.store import history\n"),
    "import_cycles": ("core/model.py", "from daemon.core import plan\n"),
    "module_size": ("core/gtin.py", "".join(f"_FILLER_{i} = {i}\n" for i in range(500))),
    "class_size": ("core/model.py", "class _Manager:\n" + "    x = 1\n" * 300),
}


def test_importing_the_core_loads_no_io_library() -> None:
    """The core's modules, imported for real in a fresh interpreter, pull in none of the
    libraries that reach a disk, a network or a clock."""
    core = sorted(n for n in load_modules() if in_room(n, "daemon.core"))
    code = (
        "import importlib, sys\n"
        f"for name in {core!r}: importlib.import_module(name)\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = {name.split(".")[0] for name in done.stdout.split()}
    assert loaded & {"yaml", "jsonschema", "httpx", "httpcore", "sqlite3", "sqlite_utils"} == set()


@pytest.mark.parametrize("rule", sorted(PLANTED))
def test_the_rules_can_fail(rule: str, tmp_path: Path) -> None:
    copy = tmp_path / "daemon"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    file, code = PLANTED[rule]
    with open(copy / file, "a") as handle:
        handle.write("\n" + code)
    assert RULES[rule](load_modules(copy)) != []
