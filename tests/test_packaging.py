"""What a release carries: the licence, the metadata, and an sdist that is a complete, testable source tree.

The sdist is built the way a packager builds it (``python -m build --sdist``, or setuptools' own backend
when ``build`` is not installed), unpacked, and a part of the suite is run from inside it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from agentsync import __version__

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_TREES = ("agentsync", "examples", "schemas", "tests", "benchmarks", "requirements")
SHIPPED_FILES = (
    "LICENSE",
    "README.md",
    "CHANGELOG.md",
    "pyproject.toml",
    "MANIFEST.in",
    "action.yml",
    ".pre-commit-hooks.yaml",
    ".ci/run",
)
# Local state and caches that a working tree may hold and no release should.
NOT_SHIPPED = re.compile(
    r"(^|/)(__pycache__|\.agentsync|\.hypothesis|\.pytest_cache|\.mypy_cache)(/|$)|\.pyc$"
)


def pyproject() -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        tomllib = pytest.importorskip("tomli")
    data: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return data


def source_files() -> set[str]:
    """Every file of the trees a release ships, as found on disk (in a clone or in an unpacked sdist)."""
    found = set(SHIPPED_FILES)
    for tree in SHIPPED_TREES:
        for path in (ROOT / tree).rglob("*"):
            name = path.relative_to(ROOT).as_posix()
            if path.is_file() and not NOT_SHIPPED.search(name):
                found.add(name)
    return found


def build_sdist(out: Path) -> Path:
    if importlib.util.find_spec("build") is not None:
        cmd = [sys.executable, "-m", "build", "--sdist", "--outdir", str(out), str(ROOT)]
    else:
        code = f"from setuptools import build_meta; print(build_meta.build_sdist({str(out)!r}))"
        cmd = [sys.executable, "-c", code]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (sdist,) = out.glob("agentsync-*.tar.gz")
    return sdist


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sdist(tmp_path_factory.mktemp("dist"))


def members(sdist: Path) -> set[str]:
    prefix = f"agentsync-{__version__}/"
    with tarfile.open(sdist) as tar:
        return {m.name[len(prefix) :] for m in tar.getmembers() if m.isfile()}


def test_the_licence_is_mit_and_declared_as_an_spdx_expression() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert re.search(r"Copyright \(c\) \d{4} the agentsync authors", text)
    project = pyproject()["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    # PEP 639: a licence expression and a licence classifier together are an error for the backends.
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]
    requires = pyproject()["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(\d+).*", r) and int(r.split(">=")[1]) >= 77 for r in requires)


def test_the_metadata_has_classifiers_urls_and_a_typed_marker() -> None:
    project = pyproject()["project"]
    assert "Typing :: Typed" in project["classifiers"]
    assert {"Homepage", "Source", "Issues", "Changelog"} <= set(project["urls"])
    assert (ROOT / "agentsync" / "py.typed").is_file()
    assert "py.typed" in pyproject()["tool"]["setuptools"]["package-data"]["agentsync"]


def test_the_changelog_documents_the_tag_scheme_and_the_current_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "vMAJOR.MINOR.PATCH" in text
    assert f"## [{__version__}]" in text
    assert "rev: v" in text and "agentsync@v" in text


@pytest.mark.slow
def test_the_sdist_ships_every_source_file_and_no_local_state(sdist: Path) -> None:
    shipped = members(sdist)
    missing = sorted(source_files() - shipped)
    assert not missing, f"the sdist lacks {missing[:20]}"
    assert not [m for m in shipped if NOT_SHIPPED.search(m)]
    assert "agentsync/py.typed" in shipped
    pkg_info = next(m for m in shipped if m == "PKG-INFO")
    with tarfile.open(sdist) as tar:
        extracted = tar.extractfile(f"agentsync-{__version__}/{pkg_info}")
        assert extracted is not None
        metadata = extracted.read().decode("utf-8")
    assert "License-Expression: MIT" in metadata
    assert "License-File: LICENSE" in metadata


@pytest.mark.slow
def test_tests_pass_inside_the_unpacked_sdist(sdist: Path, tmp_path: Path) -> None:
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path, filter="data")
    tree = tmp_path / f"agentsync-{__version__}"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    # The unpacked tree's own package comes first on the path, so these tests exercise the shipped files.
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    cmd += ["tests/test_schemagen.py", "tests/test_example_project.py", "tests/test_github_actions.py"]
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    probe = [sys.executable, "-c", "import agentsync; print(agentsync.__file__)"]
    where = subprocess.run(probe, cwd=tree, env=env, capture_output=True, text=True, check=True).stdout
    assert Path(where.strip()).is_relative_to(tree)


def test_the_api_document_reads_the_same_through_importlib_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    """The OpenAPI document is read from beside the module; where the package is no plain folder
    (a zip), importlib.resources reads it instead, to the same document. (The process's cached copy
    is left alone: the spec fuzzer annotates it.)"""
    from agentsync import spec

    read = spec.document.__wrapped__  # the reading itself, without the process's cache
    direct = read()
    monkeypatch.setattr(Path, "is_file", lambda self: False)
    through_resources = read()
    assert through_resources == direct
    assert through_resources is not direct
    assert direct["components"]["schemas"]["AgentPlatformSettingsRequestModel"]
