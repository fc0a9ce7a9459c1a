"""The seams between the packages (issue 16): checks that import-linter cannot make.

``lint-imports`` (``.importlinter``) checks the layers and private modules, but it sees
only ``.py`` files: the compiled kernels and private *names* (functions, classes) are
checked here, by reading the import statements of every module.
"""

import ast
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(root: Path, name: str) -> bool:
    """Whether ``name`` (dotted, under rasterfast) is a module or package, source or compiled."""
    path = root.joinpath(*name.split("."))
    return (path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()
            or path.with_suffix(".pyi").is_file() or any(path.parent.glob(path.name + ".*.so")))


def imports(root: Path, path: Path):
    """``(module imported from, name or None)`` of every import statement in ``path``."""
    name = module_name(root, path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                up = parts[:len(parts) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            for alias in node.names:
                yield base, alias.name


def all_imports(root: Path):
    """``(importer, module imported from, name or None)`` over the package under ``root``."""
    for path in sorted((root / "rasterfast").rglob("*.py")):
        for source, name in imports(root, path):
            yield module_name(root, path), source, name


def documented_kernels(root: Path) -> dict[str, set[str]]:
    """The kernel -> wrapper table of docs/design.md ("Layers and seams")."""
    text = (root / "docs" / "design.md").read_text()
    table = text.split("<!-- kernels -->")[1].split("<!-- /kernels -->")[0]
    return {kernel: set(re.findall(r"`(rasterfast[\w.]*)`", wrappers))
            for kernel, wrappers in re.findall(r"^\| `(_\w+)` \| (.+) \|$", table, re.M)}


def kernel_violations(root: Path) -> list[str]:
    """Kernel imports from outside the kernel's documented wrapper, and undocumented kernels.

    A package listed as the wrapper covers its modules (readers: _binary and _ndjson).
    """
    used: dict[str, set[str]] = {}
    for importer, source, name in all_imports(root):
        full = f"{source}.{name}" if name else source
        for candidate in (full, source):
            m = re.match(r"^rasterfast\._ext\.(_\w+)", candidate)
            if m:
                used.setdefault(m.group(1), set()).add(importer)
                break
    documented = documented_kernels(root)
    found = [f"{k}: in docs/design.md, imported nowhere" for k in set(documented) - set(used)]
    for kernel, importers in sorted(used.items()):
        wrappers = documented.get(kernel, set())
        for importer in sorted(importers):
            if not any(importer == w or importer.startswith(w + ".") for w in wrappers):
                found.append(f"rasterfast._ext.{kernel} imported by {importer} "
                             f"(its wrapper: {sorted(wrappers) or 'none documented'})")
    compiled = {p.name.split(".")[0] for p in (root / "rasterfast" / "_ext").glob("_*.pyi")}
    found += [f"{k}: compiled kernel with no wrapper in docs/design.md"
              for k in sorted(compiled - set(documented))]
    return found


def private_name_violations(root: Path) -> list[str]:
    """``from rasterfast.x import _name`` of a name that is not a module (or a kernel)."""
    found = []
    for importer, source, name in all_imports(root):
        if not source.startswith("rasterfast") or name is None or not name.startswith("_") \
                or name.startswith("__") or source.startswith("rasterfast._ext"):
            continue  # kernels: kernel_violations
        if is_module(root, f"{source}.{name}"):
            continue  # private modules: lint-imports (the private_modules contract)
        found.append(f"{importer}: from {source} import {name}")
    return found


def test_each_kernel_is_imported_only_by_its_documented_wrapper():
    assert kernel_violations(ROOT) == []
    assert len(documented_kernels(ROOT)) >= 13


def test_no_private_name_is_imported_from_another_module():
    assert private_name_violations(ROOT) == []


def test_the_walker_sees_the_imports_it_guards():
    # relative imports resolved: a walker that saw nothing would pass anything
    seen = set(all_imports(ROOT))
    assert ("rasterfast.parse", "rasterfast._ext", "_parse") in seen
    assert ("rasterfast.format.reader", "rasterfast._ext._gather", "_gather") in seen
    assert ("rasterfast.readers", "rasterfast.readers._sources", "find_sources") in seen


@pytest.mark.parametrize("line, check", [
    ("from ..formatting import _join\n", private_name_violations),
    ("from .._ext import _parse\n", kernel_violations),
    ("from ..render import _cvkernel\n", private_name_violations),
])
def test_a_planted_violation_is_reported(tmp_path, line, check):
    def ignore(folder, names):
        return [n for n in names if n == "__pycache__" or n.endswith(".so")]

    shutil.copytree(ROOT / "rasterfast", tmp_path / "rasterfast", ignore=ignore)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    assert check(tmp_path) == []
    plan = tmp_path / "rasterfast" / "pipeline" / "plan.py"
    plan.write_text(plan.read_text() + line)
    (found,) = check(tmp_path)
    assert "rasterfast.pipeline.plan" in found
