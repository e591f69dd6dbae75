"""TRAFFIC.md and HANDOVER.md: the parser on real-looking and hostile files, matching rows to sessions, clashes
said once per episode, creating from the template (never over a file), and what the menu and controller show."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, List, Optional

import pytest
from controller_world import NOW, ORCH, W_NEW, W_OLD, ButtonView, session

from tray.app import menu as m
from tray.app.config import ConfigStore
from tray.app.controller import TrayController
from tray.core import actions, events, handover, traffic
from tray.core.projectfiles import ProjectFiles
from tray.core.projects import Project
from tray.core.registry import Registry
from tray.core.snapshot import snapshot_from_sessions

SEED = """# Traffic Control — My Project

## Active Sessions
| Session | Role | Domain | Branch | Last Update |
|---------|------|--------|--------|-------------|
| S26 | orchestrator | auth module | feature/S26-auth | 2026-02-24 10:30 |
| S27 | worker | dashboard | feature/S27-dash | 2026-02-24 10:45 |

## Claimed Files
| File | Claimed By | Since |
|------|------------|-------|
| app/auth.py | S26 | 10:30 |

## Recent Handoffs
| From | To | Branch | Status |
|------|----|--------|--------|
| S25 | merged | feature/S25-api | ✓ merged 2026-02-23 |
"""


# --- parsing -------------------------------------------------------------------------------------------------


def test_the_protocol_example_parses_into_its_three_tables():
    parsed = traffic.parse(SEED)
    assert parsed.readable
    assert parsed.sessions == (
        traffic.ActiveRow("S26", "orchestrator", "auth module", "feature/S26-auth", "2026-02-24 10:30"),
        traffic.ActiveRow("S27", "worker", "dashboard", "feature/S27-dash", "2026-02-24 10:45"),
    )
    assert parsed.claims == (traffic.Claim("app/auth.py", "S26", "10:30"),)
    assert parsed.handoffs == (traffic.Handoff("S25", "merged", "feature/S25-api", "✓ merged 2026-02-23"),)


def test_hand_edits_reordered_extra_and_missing_columns_escaped_pipes_and_backticks():
    text = """# Traffic

Some prose a person wrote.

### active sessions (keep current!)
Branch | Notes | Session | Domain
--- | --- | --- | ---
`feat/x` | has a \\| pipe | 7c1e2a90 | api \\| cli
| feat/y | | 3e8a6c55 |

## Claimed files
| Owner | Path | Extra |
|:--|:-:|--:|
| 7c1e2a90 | `tray/core/x.py` | whatever |
| 3e8a6c55 | tray/core/y.py
|  |  |  |

## Recent Handoffs
| From | To |
|---|---|
| S1 | S2 | surplus cell | another |
"""
    parsed = traffic.parse(text)
    assert parsed.problem == ""
    assert parsed.sessions == (
        traffic.ActiveRow("7c1e2a90", domain="api | cli", branch="feat/x"),
        traffic.ActiveRow("3e8a6c55", domain="", branch="feat/y"),
    )
    assert parsed.claims == (traffic.Claim("tray/core/x.py", "7c1e2a90"), traffic.Claim("tray/core/y.py", "3e8a6c55"))
    assert parsed.handoffs == (traffic.Handoff("S1", "S2"),)


def test_a_half_written_file_keeps_what_is_whole_and_a_short_last_row():
    cut = SEED[: SEED.index("| app/auth.py | S2") + len("| app/auth.py | S2")]
    parsed = traffic.parse(cut)
    assert [row.session for row in parsed.sessions] == ["S26", "S27"]
    assert parsed.claims == (traffic.Claim("app/auth.py", "S2"),)  # what was written so far
    assert parsed.handoffs == ()


def test_a_table_ends_at_prose_and_tables_under_other_headings_are_ignored():
    text = SEED.replace("| app/auth.py | S26 | 10:30 |", "| app/auth.py | S26 | 10:30 |\nDone claiming.\n| x | S9 |")
    text += "\n## Notes\n| File | Claimed By |\n|--|--|\n| not/a/claim.py | S1 |\n"
    assert traffic.parse(text).claims == (traffic.Claim("app/auth.py", "S26", "10:30"),)


@pytest.mark.parametrize("text", ["", "hello\nworld\n", "# Traffic Control — x\n\nnothing here\n", "| a | b |\n"])
def test_a_file_with_none_of_the_tables_is_unreadable(text):
    parsed = traffic.parse(text)
    assert parsed.exists and not parsed.readable
    assert parsed.problem == "no Active Sessions, Claimed Files or Recent Handoffs table"


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "TRAFFIC.md"
    path.write_bytes(data)
    return path


def test_read_a_real_file_and_a_missing_one(tmp_path: Path):
    assert traffic.read(str(tmp_path)) == traffic.MISSING
    _write(tmp_path, SEED.encode("utf-8"))
    assert traffic.read(str(tmp_path)) == traffic.parse(SEED)
    _write(tmp_path, b"\xef\xbb\xbf" + SEED.encode("utf-8"))  # a BOM from a Windows editor
    assert traffic.read(str(tmp_path)).sessions[0].session == "S26"
    assert traffic.read(str(tmp_path / "no-such-folder")) == traffic.MISSING


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\x00\x01\x02PNG" * 100, "is not a text file"),
        (b"\xff\xfe| File |" * 10, "is not UTF-8 text"),
        (b"# T\n## Claimed Files\n" + b"| f | x |\n" * 200_000, "is too large"),
    ],
)
def test_binary_and_huge_files_are_unreadable_never_parsed(tmp_path: Path, data: bytes, problem: str):
    _write(tmp_path, data)
    parsed = traffic.read(str(tmp_path))
    assert parsed.exists and parsed.problem.startswith(problem)


def test_a_fifo_a_folder_and_a_symlink_are_refused_without_blocking(tmp_path: Path):
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / "TRAFFIC.md")  # nobody writes it: an open() for reading would hang
    done: List[traffic.Traffic] = []
    reader = threading.Thread(target=lambda: done.append(traffic.read(str(fifo))), daemon=True)
    reader.start()
    reader.join(timeout=20)
    assert done and done[0].problem == "is not a regular file"
    folder = tmp_path / "folder"
    (folder / "TRAFFIC.md").mkdir(parents=True)
    assert traffic.read(str(folder)).problem == "is not a regular file"
    link = tmp_path / "link"
    link.mkdir()
    (tmp_path / "elsewhere.md").write_text(SEED)
    os.symlink(tmp_path / "elsewhere.md", link / "TRAFFIC.md")
    assert traffic.read(str(link)).problem == "is a symbolic link"


# --- matching rows to sessions, clashes ----------------------------------------------------------------------


CLAIMED = """## Active Sessions
| Session | Role | Domain | Branch |
|--|--|--|--|
| 7c1e2a90 | orchestrator | auth | main |
| S27 | worker | dashboard | feature/dash |
| 9b4f0d11-aaaa-4bbb-8ccc-000000000003 | worker | docs | feature/docs |

## Claimed Files
| File | Claimed By | Since |
|--|--|--|
| app/auth.py | 7c1e2a90 | 10:30 |
| app/dash.py | S27 | 10:45 |
| ./app/auth.py | S27 | 10:50 |
| README.md | S99 | 11:00 |
"""


def test_rows_match_sessions_by_id_prefix_full_id_or_branch_and_clashes_name_both():
    parsed = traffic.parse(CLAIMED)
    found = traffic.for_sessions(parsed, [(ORCH, "main"), (W_OLD, "feature/dash"), (W_NEW, "")])
    assert found.sessions[ORCH] == traffic.SessionTraffic("7c1e2a90", "auth", "main", ("app/auth.py",))
    assert found.sessions[W_OLD] == traffic.SessionTraffic("S27", "dashboard", "feature/dash",
                                                           ("app/dash.py", "./app/auth.py"))
    assert found.sessions[W_NEW] == traffic.SessionTraffic(W_NEW, "docs", "feature/docs", ())
    assert found.clashes == (traffic.Clash("app/auth.py", (ORCH, W_OLD)),)


def test_a_short_name_never_matches_by_prefix_and_dead_claimants_make_no_clash():
    parsed = traffic.parse(CLAIMED)
    assert not traffic.names_match("7c1e", ORCH)
    assert traffic.names_match("7C1E2A90", ORCH)
    found = traffic.for_sessions(parsed, [(ORCH, "main")])  # S27 is not running
    assert found.clashes == ()
    assert traffic.for_sessions(traffic.parse("junk"), [(ORCH, "")]).sessions == {}


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def test_the_branch_of_a_repository_and_of_its_worktree(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git("init", "-q", "-b", "main", cwd=repo)
    _git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "x", cwd=repo)
    _git("worktree", "add", "-q", "-b", "feature/dash", str(tmp_path / "wt"), cwd=repo)
    (repo / "sub").mkdir()
    assert traffic.git_branch(str(repo / "sub"), str(repo)) == "main"
    assert traffic.git_branch(str(tmp_path / "wt")) == "feature/dash"
    assert traffic.git_branch(str(tmp_path)) == ""
    (repo / "TRAFFIC.md").write_text(CLAIMED)
    found = traffic.for_project(str(repo), [(W_OLD, str(tmp_path / "wt"))])
    assert found.sessions[W_OLD].claims == ("app/dash.py", "./app/auth.py")


def test_a_clash_is_one_notice_per_episode():
    watcher = events.ClaimWatcher()
    clash = ("/p/alpha", "alpha", "app/auth.py", (ORCH, W_OLD))
    (notice,) = watcher.check([clash])
    assert notice.title == "alpha: two sessions claim one file"
    assert notice.body == "Sessions 7c1e2a90 and 3e8a6c55 both claim app/auth.py in TRAFFIC.md. Agree who keeps it."
    assert [o.label for o in notice.offers] == ["Focus 7c1e2a90", "Focus 3e8a6c55"]
    assert watcher.check([clash]) == []
    assert watcher.check([("/p/alpha", "alpha", "APP/auth.py", (W_OLD, ORCH))]) == []  # the same episode
    assert watcher.check([]) == []
    assert len(watcher.check([clash])) == 1  # it ended, and came back: a new episode


# --- creating from the template --------------------------------------------------------------------------------


def _listing(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_create_writes_the_template_and_never_touches_an_existing_file(tmp_path: Path):
    (tmp_path / "other.txt").write_bytes(b"keep me")
    path = traffic.create(str(tmp_path), "my\nproject")
    text = Path(path).read_text(encoding="utf-8")
    assert text.startswith("# Traffic Control — my project\n")
    assert traffic.parse(text) == traffic.Traffic()  # the three tables, empty
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o644)
    before = _listing(tmp_path)
    (tmp_path / "TRAFFIC.md").write_bytes(b"hand-written \x00 not ours")
    before = _listing(tmp_path)
    with pytest.raises(traffic.AlreadyThere):
        traffic.create(str(tmp_path), "x")
    assert _listing(tmp_path) == before  # no byte changed, no temp file left behind
    assert sorted(os.listdir(tmp_path)) == ["TRAFFIC.md", "other.txt"]


def test_create_loses_a_race_to_a_file_that_appears_while_it_writes(tmp_path: Path, monkeypatch):
    real_write = traffic.atomic_write_bytes

    def write_then_race(path: str, data: bytes, **kwargs: Any) -> None:
        inner = kwargs["before_replace"]

        def racing(temp: str) -> None:
            Path(path).write_bytes(b"theirs")  # someone else creates it after our check
            inner(temp)

        real_write(path, data, **{**kwargs, "before_replace": racing})

    monkeypatch.setattr(traffic, "atomic_write_bytes", write_then_race)
    with pytest.raises(traffic.AlreadyThere):
        traffic.create(str(tmp_path), "x")
    assert (tmp_path / "TRAFFIC.md").read_bytes() == b"theirs"
    assert os.listdir(tmp_path) == ["TRAFFIC.md"]


def test_handover_template_age_and_freshness(tmp_path: Path):
    when = time.mktime((2026, 12, 1, 12, 0, 0, 0, 0, -1))
    path = handover.create(str(tmp_path), "alpha", when)
    assert Path(path).read_text(encoding="utf-8").splitlines()[0] == "# Handover — alpha — 2026-12-01"
    with pytest.raises(traffic.AlreadyThere):
        handover.create(str(tmp_path), "alpha")
    os.utime(path, (when, when))
    found = handover.look(str(tmp_path))
    assert found.exists and found.modified == when
    assert found.fresh(when - 10) and not found.fresh(when + 10)
    other = tmp_path / "linked"
    other.mkdir()
    os.symlink(path, other / "HANDOVER.md")
    assert not handover.look(str(other)).exists


# --- the menu and the controller -----------------------------------------------------------------------------


def _project(root: Path) -> Project:
    return Project(key=str(root), root=str(root), name=root.name)


def _find(root: str, name: str) -> Optional[str]:
    path = os.path.join(root, name)
    return path if os.path.isfile(path) and not os.path.islink(path) else None


def test_the_menu_shows_domain_branch_claims_clashes_and_handover_age(tmp_path: Path):
    root = tmp_path / "alpha"
    root.mkdir()
    (root / "TRAFFIC.md").write_text(CLAIMED)
    (root / "HANDOVER.md").write_text("# Handover\n")
    project = _project(root)
    snapshot = snapshot_from_sessions(
        "/reg", [session(ORCH, "orchestrator", cwd=str(root), project=project),
                 session(W_OLD, "worker", cwd=str(root), project=project)], [])
    found = traffic.for_sessions(traffic.read(str(root)), [(ORCH, ""), (W_OLD, "feature/dash")])
    files = {str(root): ProjectFiles(found, handover_modified=NOW - 3 * 3600)}
    (project_menu, *_rest) = m.build_menu(snapshot, m.MenuSettings(), _find, now=NOW, files=files)
    texts = [item.text for item in project_menu.children]
    assert "⚠ app/auth.py claimed by 7c1e2a90, 3e8a6c55" in texts
    assert "Open HANDOVER.md, 3h old" in texts and "Open TRAFFIC.md" in texts
    orch = project_menu.children[0]
    assert [c.text for c in orch.children[:2]] == ["auth · main", "Claims: app/auth.py"]
    worker = next(c for c in project_menu.children if c.text.startswith("3e8a6c55"))
    assert [c.text for c in worker.children[:2]] == ["dashboard · feature/dash", "Claims: app/dash.py, ./app/auth.py"]
    assert not worker.children[0].enabled


def test_the_menu_offers_to_create_missing_files_and_names_an_unreadable_one(tmp_path: Path):
    root = tmp_path / "alpha"
    root.mkdir()
    snapshot = snapshot_from_sessions("/reg", [session(ORCH, "orchestrator", cwd=str(root),
                                                       project=_project(root))], [])
    files = {str(root): ProjectFiles()}
    texts = {i.text: i for i in m.build_menu(snapshot, m.MenuSettings(), _find, now=NOW, files=files)[0].children}
    assert texts["Create HANDOVER.md from template"].action == m.Action(m.ActionKind.CREATE_HANDOVER, str(root))
    assert texts["Create TRAFFIC.md"].action == m.Action(m.ActionKind.CREATE_TRAFFIC, str(root))
    (root / "TRAFFIC.md").write_bytes(b"\x00binary")
    files = {str(root): ProjectFiles(traffic.ProjectTraffic(traffic.read(str(root))))}
    texts = {i.text: i for i in m.build_menu(snapshot, m.MenuSettings(), _find, now=NOW, files=files)[0].children}
    assert "⚠ TRAFFIC.md unreadable: is not a text file" in texts
    assert texts["Open TRAFFIC.md"].action == m.Action(m.ActionKind.OPEN, str(root / "TRAFFIC.md"))
    assert "Create TRAFFIC.md" not in texts


def test_the_controller_creates_opens_refuses_and_warns_once(tmp_path: Path, procs):
    project = tmp_path / "alpha"
    project.mkdir()
    registry = Registry(str(tmp_path / "reg"))
    one, two = procs.spawn(), procs.spawn()
    actions.register(registry, ORCH, one.pid, str(project))
    actions.register(registry, W_OLD, two.pid, str(project))
    view, opened = ButtonView(), []
    controller = TrayController(registry, view, ConfigStore(str(tmp_path / "cfg")), open_path=opened.append,
                                focus_problem="")
    controller.poll_once()
    controller.perform(m.Action(m.ActionKind.CREATE_TRAFFIC, str(project)))
    assert opened == [os.path.join(str(project), "TRAFFIC.md")]
    assert (project / "TRAFFIC.md").read_text(encoding="utf-8").startswith("# Traffic Control — alpha\n")
    (project / "TRAFFIC.md").write_text(CLAIMED.replace("S27", "3e8a6c55"))
    before = (project / "TRAFFIC.md").read_bytes()
    controller.perform(m.Action(m.ActionKind.CREATE_TRAFFIC, str(project)))  # it exists now: refused, untouched
    assert (project / "TRAFFIC.md").read_bytes() == before
    assert ("Orchestray: TRAFFIC.md not created", "alpha: TRAFFIC.md exists already; left as it is") in [
        n[:2] for n in view.notes]
    clash = [n for n in view.notes if n[0] == "alpha: two sessions claim one file"]
    assert len(clash) == 1  # the poll after the refusal saw it
    controller.poll_once()
    controller.poll_once()
    assert len([n for n in view.notes if n[0] == "alpha: two sessions claim one file"]) == 1
    controller.perform(m.Action(m.ActionKind.CREATE_HANDOVER, str(project)))
    assert opened[-1] == os.path.join(str(project), "HANDOVER.md")
    assert (project / "HANDOVER.md").read_text(encoding="utf-8").startswith("# Handover — alpha — ")
    menu = view.shown[3] if hasattr(view, "shown") else controller.shown[3]  # type: ignore[union-attr]
    texts = [i.text for i in menu[0].children]
    assert any(t.startswith("Open HANDOVER.md, ") and t.endswith(" old") for t in texts)


# --- keeping Active Sessions current ----------------------------------------------------------------------------


HAND_WRITTEN = (
    "# Traffic Control — alpha\r\n"
    "\r\n"
    "Notes a person wrote, with a | pipe and trailing spaces   \r\n"
    "\r\n"
    "## Active Sessions\r\n"
    "| Session | Notes | Role | Branch | Last Update |\r\n"
    "|:--|--|--|--|--|\r\n"
    "| 7c1e2a90 | keep this note | worker | `main` | 2026-11-30 09:00 |\r\n"
    "|  S26 |  gone session | worker | feature/old | 2026-11-29 |\r\n"
    "| 3e8a6c55 | untouched | worker | feature/dash | 2026-11-30 10:00 |\r\n"
    "\r\n"
    "## Claimed Files\r\n"
    "| File | Claimed By | Since |\r\n"
    "|------|------------|-------|\r\n"
    "| app/auth.py | S26 | 10:30 |\r\n"
    "\r\n"
    "Trailing prose, no final newline"
)


def _outside_table(text: str) -> tuple:
    lines = text.splitlines(keepends=True)
    start = lines.index("|:--|--|--|--|--|\r\n") + 1
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    return "".join(lines[:start]), "".join(lines[end:])


def test_only_the_active_sessions_rows_change_and_every_other_byte_stays():
    live = [traffic.LiveRow(W_NEW, "worker", "feature/docs"), traffic.LiveRow(ORCH, "orchestrator", "main"),
            traffic.LiveRow(W_OLD, "worker", "feature/dash")]
    new = traffic.active_sessions_text(HAND_WRITTEN, live, "2026-12-01 13:00")
    assert new is not None
    assert _outside_table(new) == _outside_table(HAND_WRITTEN)
    rows = new.splitlines(keepends=True)
    start = rows.index("|:--|--|--|--|--|\r\n") + 1
    assert rows[start:start + 4] == [
        "| 7c1e2a90 | keep this note | orchestrator | main | 2026-12-01 13:00 |\r\n",  # role changed: stamped
        "| 3e8a6c55 | untouched | worker | feature/dash | 2026-11-30 10:00 |\r\n",  # unchanged: the same bytes
        "| 9b4f0d11 |  | worker | feature/docs | 2026-12-01 13:00 |\r\n",  # new, named by its short id
        "\r\n",
    ]
    assert traffic.active_sessions_text(new, live, "2026-12-01 14:00") is None  # current: nothing to write
    assert traffic.parse(new).claims == traffic.parse(HAND_WRITTEN).claims


def test_a_file_without_an_active_sessions_table_or_unparseable_is_never_written(tmp_path: Path):
    live = [traffic.LiveRow(ORCH, "orchestrator")]
    assert traffic.active_sessions_text("## Claimed Files\n| File | By |\n|--|--|\n", live, "now") is None
    for data in (b"## Claimed Files\n| File | Claimed By |\n|--|--|\n| a | b |\n", b"\x00binary", b"no tables"):
        _write(tmp_path, data)
        assert traffic.keep_active_sessions(str(tmp_path), live, "now") is False
        assert (tmp_path / "TRAFFIC.md").read_bytes() == data


def test_keep_active_sessions_writes_atomically_keeps_the_mode_and_loses_to_a_concurrent_edit(
        tmp_path: Path, monkeypatch):
    data = ("\ufeff" + HAND_WRITTEN).encode("utf-8")
    path = _write(tmp_path, data)
    path.chmod(0o640)
    live = [traffic.LiveRow(ORCH, "orchestrator", "main")]
    assert traffic.keep_active_sessions(str(tmp_path), live, "2026-12-01 13:00") is True
    written = path.read_bytes()
    assert written.startswith(b"\xef\xbb\xbf# Traffic Control") and oct(path.stat().st_mode & 0o777) == oct(0o640)
    assert _outside_table(written.decode("utf-8-sig")) == _outside_table(HAND_WRITTEN)
    assert os.listdir(tmp_path) == ["TRAFFIC.md"]
    assert traffic.keep_active_sessions(str(tmp_path), live, "2026-12-01 13:05") is False  # nothing new
    assert path.read_bytes() == written
    # A person saves the file between our read and our replace: theirs wins, untouched.
    real_write = traffic.atomic_write_bytes

    def person_saves_first(target: str, payload: bytes, **kwargs: Any) -> None:
        Path(target).write_bytes(b"## Active Sessions\n| Session |\n|--|\n| mine |\n")
        real_write(target, payload, **kwargs)

    monkeypatch.setattr(traffic, "atomic_write_bytes", person_saves_first)
    assert traffic.keep_active_sessions(str(tmp_path), [traffic.LiveRow(W_OLD, "worker")], "now") is False
    assert path.read_bytes() == b"## Active Sessions\n| Session |\n|--|\n| mine |\n"
    assert os.listdir(tmp_path) == ["TRAFFIC.md"]


def test_the_toggle_is_per_project_saved_and_rewrites_only_there(tmp_path: Path, procs):
    alpha, beta = tmp_path / "alpha", tmp_path / "beta"
    registry = Registry(str(tmp_path / "reg"))
    for root in (alpha, beta):
        root.mkdir()
        (root / "TRAFFIC.md").write_text(traffic.template(root.name))
    actions.register(registry, ORCH, procs.spawn().pid, str(alpha))
    actions.register(registry, W_OLD, procs.spawn().pid, str(beta))
    view = ButtonView()
    store = ConfigStore(str(tmp_path / "cfg"))
    controller = TrayController(registry, view, store, open_path=lambda p: None, focus_problem="")
    controller.poll_once()
    beta_before = (beta / "TRAFFIC.md").read_bytes()
    alpha_before = (alpha / "TRAFFIC.md").read_bytes()
    (toggle,) = [i for i in controller.shown[3][0].children if i.text == m.KEEP_CURRENT_LABEL]  # type: ignore[index]
    assert toggle.checked is False
    project_key = toggle.action.argument
    controller.perform(toggle.action)
    assert ConfigStore(str(tmp_path / "cfg")).load().keep_traffic_current == [project_key]
    changed = [r for r in (alpha, beta) if (r / "TRAFFIC.md").read_bytes() != {alpha: alpha_before,
                                                                                 beta: beta_before}[r]]
    assert len(changed) == 1
    rows = traffic.read(str(changed[0])).sessions
    assert len(rows) == 1 and rows[0].session in (ORCH[:8], W_OLD[:8])
    controller.perform(toggle.action)  # off again: no further writes
    assert ConfigStore(str(tmp_path / "cfg")).load().keep_traffic_current == []


def test_a_malformed_keep_list_in_config_json_is_ignored(tmp_path: Path):
    (tmp_path / "config.json").write_text('{"keep_traffic_current": [1, 2], "notifications": false}')
    store = ConfigStore(str(tmp_path))
    config = store.load()
    assert config.keep_traffic_current == [] and config.notifications is False
    assert "keep_traffic_current" in store.problem
