"""The import table of shared/DESIGN.md ("Data flow"), checked against every module's imports.

Each part may import the standard library, its own package, and what its row allows; the
"never imports" column is checked for every import statement, also those inside functions
(except where the table says a part is loaded lazily: the API may reach the extractor only
from inside a function, for a live model).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STDLIB = set(sys.stdlib_module_names)

# folder (or file) -> import name, internal parts it may import, third-party it may import
# (None: not restricted beyond `never`), third-party or internal it must never import
PARTS = {
    "extract": {
        "package": "hiddenscope.extract",
        "internal": {"hiddenscope.extract", "hiddenscope.server.store.format"},
        "third": None,
        "never": {"flask", "connexion", "starlette", "hiddenscope.server.api",
                  "hiddenscope.server.engine"},
    },
    "server/store/format.py": {
        "package": "hiddenscope.server.store",
        "internal": {"hiddenscope.server.store.format"},
        "third": {"h5py", "numpy", "yaml"},
        "never": {"torch", "hiddenscope.server.api", "hiddenscope.server.engine"},
    },
    "server/store": {
        "package": "hiddenscope.server.store",
        "internal": {"hiddenscope.server.store"},
        "third": None,
        "never": {"flask", "connexion", "starlette", "torch", "spacy",
                  "hiddenscope.server.api", "hiddenscope.server.engine", "hiddenscope.extract"},
    },
    "server/engine": {
        "package": "hiddenscope.server.engine",
        "internal": {"hiddenscope.server.engine"},
        # numpy, numba, scikit-learn (with scipy and threadpoolctl, which it brings), and the
        # optional umap extra of the projection analysis
        "third": {"numpy", "numba", "sklearn", "scipy", "threadpoolctl", "umap"},
        "never": {"h5py", "flask", "connexion", "starlette", "torch", "spacy",
                  "hiddenscope.server.store", "hiddenscope.server.api", "hiddenscope.extract"},
    },
    "server/api": {
        "package": "hiddenscope.server.api",
        "internal": {"hiddenscope.server.api", "hiddenscope.server.store",
                     "hiddenscope.server.engine", "hiddenscope.client"},
        "third": None,
        "never": {"torch", "spacy"},
        "lazy": {"hiddenscope.extract"},
    },
    "server/cli.py": {
        "package": "hiddenscope.server",
        "internal": {"hiddenscope.server"},
        "third": None,
        "never": {"torch", "spacy", "hiddenscope.extract"},
    },
}


def _files(part: str) -> list[Path]:
    path = ROOT / part
    if path.suffix == ".py":
        return [path]
    skip = {ROOT / "server/store/format.py"}
    return sorted(p for p in path.glob("*.py") if p not in skip)


def _imports(path: Path, package: str) -> list[tuple[str, bool]]:
    """``(absolute module name, at module level)`` of every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    for node in tree.body:  # `if TYPE_CHECKING:` and try/except blocks count as module level
        if isinstance(node, (ast.If, ast.Try)):
            top |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
                if not node.module:  # `from . import x`: the submodules x
                    found += [(f"{name}.{a.name}", id(node) in top) for a in node.names]
                    continue
            else:
                name = node.module or ""
            found.append((name, id(node) in top))
    return found


def _within(name: str, prefixes: set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("part", sorted(PARTS))
def test_each_part_imports_only_what_the_design_allows(part):
    rule = PARTS[part]
    bad = []
    for path in _files(part):
        for name, top in _imports(path, rule["package"]):
            root = name.split(".")[0]
            where = f"{path.relative_to(ROOT)} imports {name}"
            if _within(name, rule.get("lazy", set())):
                if top:
                    bad.append(f"{where} at module level (allowed only inside a function)")
                continue
            if _within(name, rule["never"]) or root in rule["never"]:
                bad.append(f"{where} (never allowed)")
            elif root == "hiddenscope":
                if not _within(name, rule["internal"]):
                    bad.append(f"{where} (not an allowed part)")
            elif root not in STDLIB and rule["third"] is not None and root not in rule["third"]:
                bad.append(f"{where} (allowed: {', '.join(sorted(rule['third']))})")
    assert not bad, "\n".join(bad)


def test_the_table_covers_every_python_folder_of_the_server():
    folders = {p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "server").rglob("*.py")}
    folders.discard("server")
    assert folders <= {"server/store", "server/engine", "server/api"}, folders
