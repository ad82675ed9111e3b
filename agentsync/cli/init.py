"""``agentsync init [DIR]``: scaffold a project that validates clean, never overwriting a file."""

from __future__ import annotations

import json
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

import click

from agentsync import schemagen
from agentsync.cli.common import project_option
from agentsync.errors import ProjectError, UsageError

TEMPLATES = "data/templates"


def _templates(node: Traversable, prefix: str = "") -> dict[str, str]:
    """Relative path -> text of every template file."""
    files: dict[str, str] = {}
    for child in node.iterdir():
        name = f"{prefix}{child.name}"
        if child.is_dir():
            files.update(_templates(child, f"{name}/"))
        elif not child.name.startswith(".") and child.name != "__pycache__":
            files[name] = child.read_text(encoding="utf-8")
    return files


def scaffold() -> dict[str, str]:
    """Every file of a new project: the templates plus the JSON Schemas editors validate against."""
    files = _templates(resources.files("agentsync").joinpath(TEMPLATES))
    files.update({f"schemas/{name}": text for name, text in schemagen.generate().items()})
    return dict(sorted(files.items()))


# The files around a project that belong to the editor and to git: a repository often has them already,
# so they are merged (.gitignore) or left alone (.vscode/settings.json) rather than refused.
GITIGNORE = ".gitignore"
IGNORED = ".agentsync/"
VSCODE_SETTINGS = ".vscode/settings.json"


def vscode_settings() -> str:
    """yaml-language-server settings: the one custom tag, and schemas by path for files without a modeline."""
    from agentsync.kinds import KINDS

    # agentsync.*.yaml: a variant of the settings kept beside them (the example's native environments).
    schemas: dict[str, list[str]] = {"./schemas/project.schema.json": ["agentsync.yaml", "agentsync.*.yaml"]}
    for kind in KINDS:
        where = kind.layout.where
        files = [f"{where}**/*.yaml", f"{where}**/*.yml"] if kind.layout.is_folder else [where]
        schemas[f"./schemas/{kind.layout.schema_file}"] = files
    settings = {"yaml.customTags": ["!file scalar"], "yaml.schemas": schemas}
    return json.dumps(settings, indent=2) + "\n"


def _gitignore(root: Path) -> str | None:
    """The .gitignore to write, or None when the existing one already ignores the local state."""
    target = root / GITIGNORE
    if not target.exists():
        return f"# Local state of agentsync (the --emulator workspace).\n{IGNORED}\n"
    text = target.read_text(encoding="utf-8")
    if IGNORED in text.splitlines() or ".agentsync" in text.splitlines():
        return None
    return text + ("" if text.endswith("\n") or not text else "\n") + f"{IGNORED}\n"


def _write_around(root: Path) -> list[str]:
    """Write .gitignore and .vscode/settings.json where they are missing; the messages to print."""
    said = []
    ignore = _gitignore(root)
    if ignore is not None:
        verb = "updated" if (root / GITIGNORE).exists() else "created"
        (root / GITIGNORE).write_text(ignore, encoding="utf-8")
        said.append(f"{verb} {(root / GITIGNORE).as_posix()}")
    settings = root / VSCODE_SETTINGS
    if settings.exists():
        said.append(f'kept {settings.as_posix()}; add to it: "yaml.customTags": ["!file scalar"]')
    else:
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(vscode_settings(), encoding="utf-8")
        said.append(f"created {settings.as_posix()}")
    return said


def _refuse_existing(root: Path, names: list[str]) -> None:
    existing = [n for n in names if (root / n).exists() or (root / n).is_symlink()]
    if existing:
        raise ProjectError(
            f"{root} already has {', '.join(existing)}; init never overwrites files",
            hint="run init in an empty directory, or remove those files first",
        )


@click.command("init")
@click.argument("directory", required=False, type=click.Path(file_okay=True, dir_okay=True))
@project_option(default=None)
def command(directory: str | None, project_dir: Path | None) -> int:
    """Create a new project with one agent, a prompt file and tags, in DIR or -C DIR (default: here)."""
    if directory is not None and project_dir is not None and Path(directory) != project_dir:
        raise UsageError(f"two project directories were given: {directory} and -C {project_dir.as_posix()}")
    root = Path(directory) if directory is not None else (project_dir or Path("."))
    if root.exists() and not root.is_dir():
        raise ProjectError(f"{root} exists and is not a directory")
    files = scaffold()
    _refuse_existing(root, list(files))
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        click.echo(f"created {target.as_posix()}")
    for line in _write_around(root):
        click.echo(line)
    here = root.resolve() == Path.cwd().resolve()
    click.echo("next: agentsync validate" if here else f"next: cd {root.as_posix()} && agentsync validate")
    return 0
