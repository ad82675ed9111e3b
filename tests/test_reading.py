"""agentsync.reading.read_bounded with its per-folder memory of real paths: the same refusals with it
as without, for files, symlinked files and files in symlinked folders, in and out of the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentsync import reading


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    project, outside = tmp_path / "project", tmp_path / "outside"
    (project / "agents").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.yaml").write_text("token: s3cret\n")
    (project / "agents" / "a.yaml").write_text("name: A\n")
    (project / "agents" / "b.yaml").write_text("name: B\n")
    (project / "agents" / "out.yaml").symlink_to(outside / "secret.yaml")
    (project / "agents" / "in.yaml").symlink_to(project / "agents" / "a.yaml")
    (project / "linked").symlink_to(outside, target_is_directory=True)
    (project / "inner").symlink_to(project / "agents", target_is_directory=True)
    return project, outside


@pytest.mark.parametrize("shared", [False, True], ids=["each-resolved", "folders-remembered"])
def test_the_same_files_are_read_and_refused_either_way(tree: tuple[Path, Path], shared: bool) -> None:
    project, _ = tree
    real_root = project.resolve()
    folders: dict[Path, Path] | None = {} if shared else None

    def read(relative: str) -> bytes:
        return reading.read_bounded(project / relative, real_root, relative, 1000, folders=folders)

    for _ in range(2):  # the second round reads through what the first remembered
        assert read("agents/a.yaml") == b"name: A\n"
        assert read("agents/b.yaml") == b"name: B\n"
        assert read("agents/in.yaml") == b"name: A\n"  # a symlink inside the project
        assert read("inner/b.yaml") == b"name: B\n"  # a symlinked folder inside the project
        for escape in ("agents/out.yaml", "linked/secret.yaml"):
            with pytest.raises(reading.Refused, match="leads out of the project"):
                read(escape)
        with pytest.raises(reading.Refused, match="a directory"):
            read("agents")
        with pytest.raises(FileNotFoundError):
            read("agents/missing.yaml")
    if folders is not None:
        assert set(folders) == {project / "agents", project / "inner", project / "linked", project}
