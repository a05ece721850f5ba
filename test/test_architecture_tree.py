"""The README's Architecture tree and the test tree follow the package folders."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("occle_core", "occle_ros")
#: test/<folder> mirrors occle_core/<folder>; test/ros/<folder> mirrors occle_ros/<folder>.
TEST_ROOTS = {"occle_core": Path("test"), "occle_ros": Path("test/ros")}


def _package_folders(package: str) -> set[str]:
    """Sub-package folders of `package`, relative to it ("data/nuscenes", "model/fusion")."""
    base = ROOT / package
    return {
        init.parent.relative_to(base).as_posix()
        for init in base.rglob("__init__.py")
        if init.parent != base
    }


def _architecture_block(readme: str) -> list[str]:
    match = re.search(r"^## Architecture\n\n```\n(.*?)^```", readme, re.S | re.M)
    assert match, "README.md has no code block under '## Architecture'"
    return match.group(1).splitlines()


def _tree_entries(lines: list[str]) -> tuple[set[str], dict[str, set[str]]]:
    """Top-level entries and, per package, the entries listed under it (first word of each
    line indented by two spaces; continuation lines are indented further)."""
    top: set[str] = set()
    nested: dict[str, set[str]] = {}
    current = ""
    for line in lines:
        if not line.strip():
            continue
        if not line.startswith(" "):
            words = re.split(r"\s{2,}", line.strip())[0]
            top.update(w.strip() for w in words.split(","))
            current = words.rstrip("/")
        elif re.match(r"^  \S", line) and current in PACKAGES:
            nested.setdefault(current, set()).add(line.split()[0])
    return top, nested


def test_every_tree_entry_exists() -> None:
    top, nested = _tree_entries(_architecture_block((ROOT / "README.md").read_text()))
    missing = sorted(e for e in top if not (ROOT / e).exists())
    for package, entries in nested.items():
        missing += sorted(f"{package}/{e}" for e in entries if not (ROOT / package / e).exists())
    assert missing == []


def test_every_package_folder_is_in_the_tree() -> None:
    top, nested = _tree_entries(_architecture_block((ROOT / "README.md").read_text()))
    assert {f"{p}/" for p in PACKAGES} <= top
    for package in PACKAGES:
        listed = {e.rstrip("/") for e in nested.get(package, set())}
        assert sorted(_package_folders(package) - listed) == [], package


def test_the_tree_reader_sees_a_missing_folder() -> None:
    lines = ["occle_core/   lib", "  geometry/   grids", "    continued text", "setup.py  pip"]
    top, nested = _tree_entries(lines)
    assert top == {"occle_core/", "setup.py"} and nested == {"occle_core": {"geometry/"}}
    assert "eval" in _package_folders("occle_core") - {"geometry"}


def _test_folders() -> set[Path]:
    test = ROOT / "test"
    return {
        p.relative_to(ROOT)
        for p in test.rglob("*")
        if p.is_dir() and p.name != "__pycache__" and any(p.glob("test_*.py"))
    }


def test_every_test_folder_mirrors_a_package_folder() -> None:
    strays = []
    for folder in _test_folders():
        if folder == TEST_ROOTS["occle_ros"] or folder == TEST_ROOTS["occle_core"]:
            continue
        if folder.is_relative_to(TEST_ROOTS["occle_ros"]):
            package, relative = "occle_ros", folder.relative_to(TEST_ROOTS["occle_ros"])
        else:
            package, relative = "occle_core", folder.relative_to(TEST_ROOTS["occle_core"])
        if relative.as_posix() not in _package_folders(package):
            strays.append(folder.as_posix())
    assert sorted(strays) == []


def test_every_top_level_package_folder_has_its_tests() -> None:
    folders = {f.as_posix() for f in _test_folders()}
    missing = []
    for package, test_root in TEST_ROOTS.items():
        for sub in _package_folders(package):
            if "/" not in sub and (test_root / sub).as_posix() not in folders:
                missing.append(f"{package}/{sub}")
    assert sorted(missing) == []
