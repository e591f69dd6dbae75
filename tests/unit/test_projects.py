"""Which project a session belongs to: real git repositories and worktrees, and Windows paths via ntpath."""

from __future__ import annotations

import ntpath
import os
import posixpath
import subprocess
from typing import Dict, Optional

import pytest
from helpers import by_session, cli_json, run_cli

from tray.core.projects import ProjectResolver, find_project_root, normalise

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(*args: str, cwd: str) -> None:
    env = dict(os.environ, HOME=cwd, **GIT_ENV)
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=60)


@pytest.fixture
def repo(tmp_path):
    """A git repository with one commit and two linked worktrees (as `claude --worktree` makes them)."""
    main = tmp_path / "repo"
    (main / "src" / "deep").mkdir(parents=True)
    git("init", "-q", "-b", "main", str(main), cwd=str(tmp_path))
    (main / "README").write_text("hello\n")
    git("add", "README", cwd=str(main))
    git("commit", "-q", "-m", "init", cwd=str(main))
    wt1 = tmp_path / "trees" / "wt1"
    wt2 = tmp_path / "repo" / ".claude" / "worktrees" / "wt2"  # where Claude Code puts its worktrees
    git("worktree", "add", "-q", "-b", "feature-1", str(wt1), cwd=str(main))
    git("worktree", "add", "-q", "-b", "feature-2", str(wt2), cwd=str(main))
    assert (wt1 / ".git").is_file() and (wt2 / ".git").is_file()
    (wt1 / "sub").mkdir()
    return main, wt1, wt2


def register(registry: str, session_id: str, cwd, pid: int) -> str:
    result = run_cli(["register", "--session-id", session_id, "--cwd", str(cwd), "--pid", pid], registry_dir=registry)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_main_checkout_and_worktrees_are_one_project(repo, tmp_path, procs):
    main, wt1, wt2 = repo
    registry = str(tmp_path / "registry")
    roles = [register(registry, sid, cwd, procs.spawn().pid)
             for sid, cwd in (("main", main), ("wt1", wt1), ("wt2", wt2), ("sub", wt1 / "sub"),
                              ("deep", main / "src" / "deep"))]
    assert roles == ["orchestrator", "worker", "worker", "worker", "worker"]
    rows = by_session(cli_json(["list"], registry))
    keys = {row["project"] for row in rows.values()}
    assert keys == {normalise(str(main))}
    status = cli_json(["status", "--json"], registry)
    [project] = status["projects"]
    assert project["name"] == "repo" and project["state"] == "ok"
    assert project["orchestrator"]["sessionId"] == "main"
    assert sorted(w["sessionId"] for w in project["workers"]) == ["deep", "sub", "wt1", "wt2"]


def test_worktree_first_then_main(repo, tmp_path, procs):
    """The first session of the project may well be in a worktree: the main checkout is then a worker."""
    main, wt1, _ = repo
    registry = str(tmp_path / "registry")
    assert register(registry, "a", wt1, procs.spawn().pid) == "orchestrator"
    assert register(registry, "b", main, procs.spawn().pid) == "worker"


def test_resolution_on_disk(repo, tmp_path):
    main, wt1, wt2 = repo
    for folder in (main, main / "src", main / "src" / "deep", wt1, wt1 / "sub", wt2):
        assert find_project_root(str(folder)) == str(main), folder
    resolver = ProjectResolver()
    assert resolver.resolve(str(wt2)).key == resolver.resolve(str(main) + "/src/../") .key == normalise(str(main))
    assert resolver.resolve(str(wt1)).name == "repo"


def test_a_submodule_git_file_without_commondir_is_its_own_project(tmp_path):
    outer = tmp_path / "outer"
    (outer / ".git" / "modules" / "lib").mkdir(parents=True)
    (outer / ".git" / "modules" / "lib" / "HEAD").write_text("ref: refs/heads/main\n")
    lib = outer / "lib"
    (lib / "inner").mkdir(parents=True)
    (lib / ".git").write_text("gitdir: ../.git/modules/lib\n")
    assert find_project_root(str(lib)) == str(lib)
    assert find_project_root(str(lib / "inner")) == str(lib)
    assert find_project_root(str(outer)) == str(outer)


def test_a_git_file_we_do_not_understand_is_its_own_project(tmp_path):
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / ".git").write_text("this is not a gitdir line\n")
    assert find_project_root(str(odd)) == str(odd)
    (odd / ".git").write_text("")
    assert find_project_root(str(odd)) == str(odd)


def test_a_folder_outside_git_is_its_own_project(tmp_path, procs):
    plain = tmp_path / "plain"
    (plain / "child").mkdir(parents=True)
    assert find_project_root(str(plain)) == str(plain)
    assert find_project_root(str(plain / "child")) == str(plain / "child")
    registry = str(tmp_path / "registry")
    assert register(registry, "p", plain, procs.spawn().pid) == "orchestrator"
    assert register(registry, "c", plain / "child", procs.spawn().pid) == "orchestrator"  # another project
    rows = by_session(cli_json(["list"], registry))
    assert rows["p"]["project"] == str(plain) and rows["c"]["project"] == str(plain / "child")


def test_windows_spellings_of_one_folder_are_one_key():
    spellings = ["C:/Users/X/proj", "c:\\users\\x\\proj\\", "C:\\Users\\X\\proj\\.\\sub\\..", "C:\\USERS\\x\\PROJ",
                 "C:/Users/X/proj/"]
    keys = {normalise(path, ntpath) for path in spellings}
    assert len(keys) == 1, keys
    assert normalise("C:/Users/X/other", ntpath) not in keys
    assert normalise("D:/Users/X/proj", ntpath) not in keys
    resolver = ProjectResolver(ntpath)
    assert {resolver.resolve(path).key for path in spellings} == keys
    assert resolver.resolve("C:/Users/X/proj").name == "proj"


def test_posix_paths_keep_their_case():
    assert normalise("/home/X/Proj", posixpath) == "/home/X/Proj"
    assert normalise("/home/X/Proj", posixpath) != normalise("/home/x/proj", posixpath)
    assert normalise("/home/X/Proj/./sub/../", posixpath) == "/home/X/Proj"
    assert normalise("/home/X/Proj\\sub", posixpath) == "/home/X/Proj\\sub"  # a backslash is just a character


class FakeWindowsDisk:
    """Files and folders of a Windows machine, looked up case-insensitively like NTFS."""

    def __init__(self, files: Dict[str, str], folders) -> None:
        self.files = {normalise(k, ntpath): v for k, v in files.items()}
        self.folders = {normalise(k, ntpath) for k in folders}
        self.reads = []

    def read(self, path: str) -> Optional[str]:
        self.reads.append(path)
        return self.files.get(normalise(path, ntpath))

    def exists(self, path: str) -> bool:
        key = normalise(path, ntpath)
        return key in self.files or key in self.folders

    def isdir(self, path: str) -> bool:
        return normalise(path, ntpath) in self.folders

    def root(self, cwd: str) -> str:
        return find_project_root(cwd, ntpath, read=self.read, exists=self.exists, isdir=self.isdir)


def test_windows_worktree_resolves_to_the_main_repository():
    disk = FakeWindowsDisk(
        files={
            "C:\\work\\wt1\\.git": "gitdir: C:/repo/.git/worktrees/wt1\n",
            "C:\\repo\\.git\\worktrees\\wt1\\commondir": "../..\n",
            "C:\\repo\\.git\\worktrees\\wt1\\gitdir": "C:/work/wt1/.git\n",
        },
        folders=["C:\\repo", "C:\\repo\\.git", "C:\\repo\\.git\\worktrees\\wt1", "C:\\work\\wt1",
                 "C:\\work\\wt1\\src"],
    )
    assert disk.root("C:\\work\\wt1") == "C:\\repo"
    assert disk.root("C:/work/wt1/src") == "C:\\repo"
    assert disk.root("C:\\repo") == "C:\\repo"
    assert normalise(disk.root("c:/WORK/wt1/"), ntpath) == normalise("C:/repo", ntpath)


def test_windows_worktree_with_relative_gitdir_and_bare_common_dir():
    disk = FakeWindowsDisk(
        files={
            "D:\\w\\tree\\.git": "gitdir: ..\\..\\bare.git\\worktrees\\tree",
            "D:\\bare.git\\worktrees\\tree\\commondir": "../..",
        },
        folders=["D:\\w\\tree", "D:\\bare.git"],
    )
    assert disk.root("D:\\w\\tree") == "D:\\bare.git"  # a bare repository: the common dir is the project


def test_windows_folder_outside_git_is_itself():
    disk = FakeWindowsDisk(files={}, folders=["C:\\Users\\X\\notes"])
    assert disk.root("C:/Users/X/notes/") == "C:\\Users\\X\\notes"


def _case_insensitive(folder) -> bool:
    """Whether the volume holding ``folder`` finds a name in another case (macOS and Windows by default)."""
    probe = folder / "CaseProbe"
    probe.mkdir()
    try:
        return (folder / "caseprobe").exists()
    finally:
        probe.rmdir()


def test_one_folder_under_two_spellings_on_a_case_insensitive_volume_is_one_project(tmp_path, procs):
    """Risk to settle from issue 17: macOS volumes are case-insensitive by default, so `Code/Proj` and
    `code/proj` are one folder. On such a volume (the macOS CI) the spellings are the folder's own; on Linux,
    links give the folder's other spellings, so the file system answers as a case-insensitive one would."""
    volume = tmp_path / "vol"
    proj = volume / "Code" / "Proj"
    (proj / ".git").mkdir(parents=True)
    if not _case_insensitive(tmp_path):
        (volume / "code").symlink_to("Code")
        for spelling in ("proj", "pROJ", "PROJ"):
            (volume / "Code" / spelling).symlink_to("Proj")
    registry = str(tmp_path / "registry")
    assert register(registry, "a", proj, procs.spawn().pid) == "orchestrator"
    assert register(registry, "b", volume / "code" / "proj", procs.spawn().pid) == "worker"
    rows = by_session(cli_json(["list"], registry))
    assert rows["a"]["project"] == rows["b"]["project"]
    assert rows["b"]["cwd"] == str(volume / "code" / "proj")  # the entry keeps the session's own spelling


def test_two_folders_differing_in_case_on_a_case_sensitive_volume_stay_two_projects(tmp_path, procs):
    if _case_insensitive(tmp_path):
        pytest.skip("this volume is case-insensitive: Proj and proj cannot be two folders here")
    for name in ("Proj", "proj"):
        (tmp_path / name / ".git").mkdir(parents=True)
    registry = str(tmp_path / "registry")
    assert register(registry, "a", tmp_path / "Proj", procs.spawn().pid) == "orchestrator"
    assert register(registry, "b", tmp_path / "proj", procs.spawn().pid) == "orchestrator"
    rows = by_session(cli_json(["list"], registry))
    assert rows["a"]["project"] == str(tmp_path / "Proj") and rows["b"]["project"] == str(tmp_path / "proj")
