"""The repository stands on its own: its docs exist, nothing cites a document outside it, and the README's
Layout section names every module (a newcomer reads it to find their way; a module it omits is invisible).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import List

import pytest

REPO = Path(__file__).resolve().parents[2]
# Spelled in pieces so that this file does not match itself.
OUTSIDE_REFERENCES = ("DESIGN" + ".md", "../" + "shared", "shared" + "/")
DOCS = ("docs/protocol.md", "docs/decisions.md", "docs/architecture.md")


def tracked_files() -> List[Path]:
    """Every file git tracks (or, outside a git checkout, every file but build output and virtualenvs)."""
    try:
        done = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, timeout=30, check=True)
        return [REPO / name for name in done.stdout.decode("utf-8", "replace").split("\0") if name]
    except (OSError, subprocess.SubprocessError):
        skip = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
        return [p for p in REPO.rglob("*") if p.is_file() and not skip & set(p.relative_to(REPO).parts)]


def layout_section() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Layout\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "README.md has no '## Layout' section"
    return match.group(1)


@pytest.mark.parametrize("name", DOCS)
def test_design_docs_exist_and_are_linked_from_the_readme(name: str) -> None:
    assert (REPO / name).is_file()
    assert (REPO / name).read_text(encoding="utf-8").startswith("# ")
    assert f"]({name})" in layout_section()


def test_no_file_cites_a_document_outside_the_repository() -> None:
    offenders = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # images, icons
        for number, line in enumerate(text.splitlines(), 1):
            if any(reference in line for reference in OUTSIDE_REFERENCES):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:100]}")
    assert offenders == []


def test_the_readme_layout_names_every_module() -> None:
    layout = layout_section()
    modules = sorted(p for p in (REPO / "tray").rglob("*.py") if p.name != "__init__.py")
    assert modules, "no modules found"
    missing = []
    for module in modules:
        relative = module.relative_to(REPO).as_posix()
        folder, name = relative.rsplit("/", 1)
        # Named either by its full path or, inside its folder's bullet, by its file name.
        bullet = re.search(rf"^- `{re.escape(folder)}/`.*?(?=^- |\Z)", layout, re.S | re.M)
        if f"`{relative}`" not in layout and not (bullet and f"`{name}`" in bullet.group(0)):
            missing.append(relative)
    assert missing == []


def test_test_modules_never_import_each_other() -> None:
    """What several tests share lives in tests/support; a test module imported by another would run its tests'
    module-level set-up twice and tie one file's edits to another's (tests/conftest.py says so too)."""
    test_modules = {p.stem for p in (REPO / "tests").rglob("test_*.py")}
    importing = re.compile(r"^\s*(?:from\s+(?:tests\.\w+\.)?(\w+)\s+import|import\s+(?:tests\.\w+\.)?(\w+))", re.M)
    offenders = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        for match in importing.finditer(path.read_text(encoding="utf-8")):
            name = match.group(1) or match.group(2)
            if name in test_modules:
                offenders.append(f"{path.relative_to(REPO)} imports {name}")
    assert offenders == []


#: A module past this many lines says at its top why it is one piece (a sentence with "400 lines" in its docstring).
LONG_MODULE = 420


def test_every_long_module_says_at_its_top_why_it_is_one_piece() -> None:
    import ast

    silent = []
    for path in tracked_files():
        if path.suffix != ".py" or not path.is_file() or path.relative_to(REPO).parts[0] == "tests":
            continue
        text = path.read_text(encoding="utf-8")
        docstring = " ".join((ast.get_docstring(ast.parse(text)) or "").split())
        if text.count("\n") > LONG_MODULE and "400 lines" not in docstring:
            silent.append(f"{path.relative_to(REPO)} ({text.count(chr(10))} lines)")
    assert silent == []


def _code_lines(path: Path) -> List[str]:
    """A module's lines with their comments cut off."""
    return [line.split("#", 1)[0] for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize(("pattern", "owners"), [
    # Files are written in one place (temp file, fsync, rename); the log's size rollover is a rename of its own.
    (r"\bos\.(replace|rename)\(|\bmkstemp\(|NamedTemporaryFile\(", {"tray/core/fsutil.py", "tray/core/log.py"}),
    # Only the launch module knows whether this is a PyInstaller build.
    (r"getattr\(sys,\s*[\"']frozen|\bsys\.frozen\b", {"tray/platform/launch.py"}),
])
def test_one_place_per_concern(pattern: str, owners: set) -> None:
    found = set()
    for module in (REPO / "tray").rglob("*.py"):
        code = [line for line in _code_lines(module) if not line.strip().startswith(('"', "'"))]
        if any(re.search(pattern, line) for line in code):
            found.add(module.relative_to(REPO).as_posix())
    assert found <= owners, found - owners
