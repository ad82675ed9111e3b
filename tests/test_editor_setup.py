"""Editors and new projects: what `init` writes around a project (.vscode/settings.json, .gitignore),
and modelines that point at a schema inside the project, in new projects and in the shipped example,
also once it is copied out of this repository."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from agentsync import schemagen
from agentsync.cli import run
from agentsync.cli.init import vscode_settings
from agentsync.kinds import KINDS

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "support-desk"
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")
# The settings (and the example's native-environments variant of them), and every one-file kind.
EXPECTED_SCHEMA = {
    "agentsync.yaml": "project.schema.json",
    "agentsync.native.yaml": "project.schema.json",
    **{k.layout.where: k.layout.schema_file for k in KINDS if not k.layout.is_folder},
}
FOLDER_SCHEMA = {k.layout.where.rstrip("/"): k.layout.schema_file for k in KINDS if k.layout.is_folder}


def expected_schema(root: Path, path: Path) -> str:
    folder = path.relative_to(root).parts[0]
    return EXPECTED_SCHEMA.get(path.name) or FOLDER_SCHEMA.get(folder, "agent.schema.json")


def yaml_files(root: Path) -> list[Path]:
    skip = {".agentsync", "schemas", ".vscode"}
    return sorted(p for p in root.rglob("*.y*ml") if not skip & set(p.relative_to(root).parts))


def check_modelines(root: Path) -> None:
    """Every YAML file starts with a modeline naming the right schema, found from the file's folder."""
    files = yaml_files(root)
    assert files
    for path in files:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        match = MODELINE.match(first)
        assert match, f"{path.relative_to(root)} has no modeline"
        target = (path.parent / match.group(1)).resolve()
        assert target.is_file(), f"{path.relative_to(root)}: {match.group(1)} does not exist"
        assert target.is_relative_to(root.resolve()), f"{path.relative_to(root)} points outside the project"
        assert target.name == expected_schema(root, path), path


def glob_matches(pattern: str, path: str) -> bool:
    """yaml-language-server's globs: `**/` is any number of folders, `*` stays inside one."""
    regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*")
    return re.fullmatch(regex, path) is not None


def check_settings(root: Path) -> None:
    """The VS Code settings name the !file tag, and each schema association points at a real schema
    and matches the files of that kind."""
    settings = json.loads((root / ".vscode" / "settings.json").read_text(encoding="utf-8"))
    assert "!file scalar" in settings["yaml.customTags"]
    kinds = {}
    for schema, globs in settings["yaml.schemas"].items():
        assert (root / schema).is_file(), schema
        for path in yaml_files(root):
            relative = path.relative_to(root).as_posix()
            if any(glob_matches(g, relative) for g in globs):
                kinds[relative] = PurePosixPath(schema).name
    for path in yaml_files(root):
        name = path.relative_to(root).as_posix()
        assert kinds.get(name) == expected_schema(root, path), name


def test_init_writes_editor_settings_gitignore_and_modelines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "new"
    assert run(["init", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"created {root.as_posix()}/.vscode/settings.json" in out
    check_modelines(root)
    check_settings(root)
    assert ".agentsync/" in (root / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert run(["validate", "-C", str(root), "--strict"]) == 0


def test_init_merges_an_existing_gitignore_and_keeps_existing_editor_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/", encoding="utf-8")
    (tmp_path / ".vscode").mkdir()
    (tmp_path / ".vscode" / "settings.json").write_text('{"editor.tabSize": 2}\n', encoding="utf-8")
    assert run(["init", str(tmp_path)]) == 0
    assert (tmp_path / ".gitignore").read_text(encoding="utf-8") == "node_modules/\n.agentsync/\n"
    assert (tmp_path / ".vscode" / "settings.json").read_text(encoding="utf-8") == '{"editor.tabSize": 2}\n'
    out = capsys.readouterr().out
    assert "updated" in out and "kept" in out and "!file scalar" in out
    # Once the line is there, a second project in the same repository leaves the file alone.
    before = (tmp_path / ".gitignore").read_text(encoding="utf-8")
    assert run(["init", str(tmp_path / "second")]) == 0
    assert (tmp_path / ".gitignore").read_text(encoding="utf-8") == before


def test_the_example_has_its_own_up_to_date_schemas_and_settings() -> None:
    for name, text in schemagen.generate().items():
        assert (EXAMPLE / "schemas" / name).read_text(encoding="utf-8") == text, (
            f"examples/support-desk/schemas/{name} is stale: run python -m agentsync.schemagen "
            "examples/support-desk/schemas"
        )
    assert (EXAMPLE / ".vscode" / "settings.json").read_text(encoding="utf-8") == vscode_settings()


def test_the_examples_modelines_work_when_it_is_copied_out(tmp_path: Path) -> None:
    copy = tmp_path / "my-agents"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".agentsync"))
    check_modelines(copy)
    check_settings(copy)


def test_the_copied_examples_local_state_stays_out_of_git(tmp_path: Path) -> None:
    copy = tmp_path / "my-agents"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".agentsync"))
    subprocess.run(["git", "init", "-q", str(copy)], check=True)
    assert run(["plan", "-C", str(copy), "--emulator"]) == 0
    assert (copy / ".agentsync" / "emulator.json").is_file()
    status = subprocess.run(
        ["git", "-C", str(copy), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status and ".agentsync" not in status
