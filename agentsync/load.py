"""Load a project: settings from agentsync.yaml, the selected environment, then every kind's
definitions (:mod:`agentsync.layouts`), with every problem collected before anything is raised.

Files are read by :mod:`agentsync.loader` (YAML with ``file:line:col`` on every value). Nothing here prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from agentsync import hosts, native, schema
from agentsync import variables as templates
from agentsync.errors import Location, Problem, Severity, ValidationFailed
from agentsync.layouts import load_definitions
from agentsync.loader import Document, Reader, Sources, describe, read_document
from agentsync.project import PROJECT_FILE, Environment, Project, Settings, namespaces, settings_from

# ------------------------------------------------------------------------------------------- projects

# Called with the project's settings and selected environment before its definitions are read.
SettingsHook = Callable[[Settings, Environment | None], None]


def load_project(
    root: Path | str,
    *,
    environment: str | None = None,
    environ: Mapping[str, str] | None = None,
    on_settings: SettingsHook | None = None,
) -> Project:
    """Load and validate the project at ``root``; raise ValidationFailed if there is any error.
    Warnings (catalogue values the spec does not know) go to ``Project.warnings``. ``${env.*}`` reads
    ``environ`` (default: the process environment), and an unset one is an error here.
    ``on_settings`` is called once agentsync.yaml and the environment are known and valid, before any
    definition is read (the CLI starts reading the workspace then)."""
    source = os.environ if environ is None else environ
    project, problems = assemble(Path(root), environment, source, on_settings)
    if project is None or any(p.is_error for p in problems):
        raise ValidationFailed(problems)
    project.warnings = problems
    return project


def validate_project(root: Path | str, *, environment: str | None = None) -> list[Problem]:
    """Every problem of the project at ``root`` (errors and warnings), in file order, without raising.

    Offline and secret-free, as a CI step runs it: ``${env.*}`` is checked by syntax only (plan and
    apply report an unset one). Without ``environment`` and without a default one, every environment
    is validated and a problem found in only some of them names them."""
    project, problems = assemble(Path(root), environment, None)
    # An environment that was asked for and is unknown is the problem to report, not a reason to check all.
    if project is None or environment is not None or not project.settings.environments:
        return problems
    if project.settings.native:  # one workspace: the project is the same in every environment
        return problems
    if project.environment is not None:
        return problems
    return _per_environment(Path(root), sorted(project.settings.environments))


def _per_environment(root: Path, names: list[str]) -> list[Problem]:
    found: dict[tuple[Location | None, str, Severity], list[str]] = {}
    problems: dict[tuple[Location | None, str, Severity], Problem] = {}
    for name in names:
        for problem in assemble(root, name, None)[1]:
            key = (problem.location, problem.message, problem.severity)
            found.setdefault(key, []).append(name)
            problems.setdefault(key, problem)
    out = [
        p
        if len(found[k]) == len(names)
        else replace(p, message=f"{p.message} (environment {', '.join(found[k])})")
        for k, p in problems.items()
    ]
    return _ordered(out)


def assemble(
    root: Path,
    environment: str | None,
    environ: Mapping[str, str] | None = None,
    on_settings: SettingsHook | None = None,
) -> tuple[Project | None, list[Problem]]:
    """Read every project file and collect every problem; the project is None if it has no settings.
    ``environ`` None checks ``${env.*}`` by syntax only."""
    problems: list[Problem] = []
    sources = Sources()
    reader = Reader(root, problems, sources)
    settings_doc = _settings_document(reader)
    if settings_doc is None:
        return None, _ordered(sources.attach(problems))
    settings = settings_from(settings_doc.value if not _has_errors(problems) else {})
    selected = _environment(reader, settings, environment, settings_doc)
    if on_settings is not None and not _has_errors(problems):
        on_settings(settings, selected)
    scope = [selected.namespace or settings.namespace] if selected else namespaces(settings)
    variables = {**settings.variables, **(selected.variables if selected else {})}
    context = templates.Context(variables, environ, selected.name if selected else None)
    definitions = load_definitions(reader, settings_doc, scope, context, selected.name if selected else None)
    if settings.native:
        problems.extend(native.environment_key_rules(definitions, settings.elevenlabs_environments))
    project = Project(root, settings, definitions, selected)
    return project, _ordered(grouped(sources.attach(problems)))


def grouped(problems: list[Problem]) -> list[Problem]:
    """One problem per cause: the same message at the same place, found in several definitions (a
    ``"*"`` override read into every agent), is reported once, naming how many it was found in."""
    counts: dict[tuple[object, ...], int] = {}
    first: dict[tuple[object, ...], Problem] = {}
    for problem in problems:
        key = (problem.location, problem.message, problem.severity, problem.subject)
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, problem)
    return [_counted(p, counts[k]) for k, p in first.items()]


def _counted(problem: Problem, count: int) -> Problem:
    if count == 1:
        return problem
    what = f"{count} {problem.subject}s" if problem.subject else f"{count} places"
    return replace(problem, message=f"{problem.message} (found in {what})")


def _has_errors(problems: list[Problem]) -> bool:
    return any(p.is_error for p in problems)


def _ordered(problems: list[Problem]) -> list[Problem]:
    def key(p: Problem) -> tuple[int, str, int, int]:
        loc = p.location
        return (0, "", 0, 0) if loc is None else (1, loc.file, loc.line, loc.col)

    return sorted(problems, key=key)


def _settings_document(reader: Reader) -> Document | None:
    root = reader.root
    if not root.is_dir():
        reader.error(None, f"{root} is not a directory")
        return None
    path = root / PROJECT_FILE
    if not path.exists():
        reader.error(None, f"{root} has no {PROJECT_FILE}; run `agentsync init` to create a project")
        return None
    document = read_document(reader, path, allow_empty=True)
    if document is None:
        return None
    if not isinstance(document.value, dict):
        reader.error(
            document.location_of(()),
            f"{PROJECT_FILE} must be a mapping of settings "
            f"(namespace, environments, ...), not {describe(document.value)}",
        )
        return None
    before = len(reader.problems)
    reader.problems.extend(schema.check(document, schema.project_validator()))
    reader.problems.extend(_settings_rules(document))
    reader.problems.extend(native.settings_rules(document))
    return document if len(reader.problems) == before else Document(document.file, {})


def _settings_rules(document: Document) -> list[Problem]:
    """What the schema cannot say about agentsync.yaml."""
    value = document.value
    problems = []
    # A non-mapping environments: is the schema's error already; these rules only read a mapping.
    known = value.get("environments") if isinstance(value.get("environments"), dict) else {}
    for name, env in known.items():
        if isinstance(env, dict):
            problems.extend(_connection_rules(document, name, env))
        if isinstance(env, dict) and "base_url" in env and "residency" in env:
            problems.append(
                Problem(
                    document.location_of(("environments", name, "residency")),
                    f"environments.{name}: set base_url or residency, not both",
                )
            )
    default = value.get("default_environment")
    if isinstance(default, str) and default not in known:
        problems.append(
            Problem(
                document.location_of(("default_environment",), value=True),
                f"default_environment: {_unknown_env(default, known)}",
            )
        )
    return problems


def _connection_rules(document: Document, name: str, env: Mapping[str, Any]) -> list[Problem]:
    """A file decides nothing about where the key goes (see agentsync.hosts)."""
    reasons = []
    if isinstance(env.get("base_url"), str):
        reasons.append(("base_url", hosts.base_url_problem(env["base_url"])))
    if isinstance(env.get("api_key_env"), str):
        reasons.append(("api_key_env", hosts.key_env_problem(env["api_key_env"])))
    return [
        Problem(
            document.location_of(("environments", name, key), value=True),
            f"environments.{name}.{key}: {reason}",
        )
        for key, reason in reasons
        if reason
    ]


def _unknown_env(name: str, known: Mapping[str, Any]) -> str:
    listed = ", ".join(sorted(known)) if known else "none (add an `environments:` section)"
    return f"unknown environment '{name}'; the project defines: {listed}"


def _environment(reader: Reader, settings: Settings, name: str | None, doc: Document) -> Environment | None:
    if settings.native:
        if name is not None:
            reader.error(
                doc.location_of(("environments",)),
                f"--env {name}: the environments of this project are native (one workspace, an "
                "ElevenLabs environment each), and plan and apply cover all of them at once; leave out --env",
            )
        return None
    chosen = name or settings.default_environment
    if chosen is None:
        return None
    found = settings.environments.get(chosen)
    if found is None and name is not None:
        reader.error(
            doc.location_of(("environments",)) if settings.environments else None,
            _unknown_env(chosen, settings.environments),
        )
    return found
