"""`orchestray sources ...` and `orchestray handover`, as a user runs them (the real CLI in a process)."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import one_line_error, run_cli


def _env(tmp_path: Path) -> dict:
    return {"ORCHESTRAY_CONFIG_DIR": str(tmp_path / "cfg")}


def test_sources_are_added_listed_and_removed_in_config_json(tmp_path: Path) -> None:
    env = _env(tmp_path)
    empty = run_cli(["sources", "list"], env=env)
    assert empty.returncode == 0 and "no other sources" in empty.stdout
    added = run_cli(["sources", "add", "ssh:devbox", "--command", "/home/me/.local/bin/orchestray"], env=env)
    assert added.returncode == 0, added.stderr
    assert ("the tray follows it with: ssh -o BatchMode=yes -o ConnectTimeout=5 -- devbox "
            "/home/me/.local/bin/orchestray watch --json --heartbeat=5" in added.stdout)
    assert "devbox /home/me/.local/bin/orchestray hooks install" in added.stdout
    assert added.stdout.splitlines()[-1] == "a running tray starts following it by itself: no restart needed"
    assert run_cli(["sources", "add", "wsl:Ubuntu"], env=env).returncode == 0
    assert run_cli(["sources", "add", "docker:web"], env=env).returncode == 0
    listed = run_cli(["sources", "list"], env=env)
    assert listed.stdout.splitlines() == ["ssh:devbox\t/home/me/.local/bin/orchestray", "wsl:Ubuntu\torchestray",
                                          "docker:web\torchestray"]
    again = run_cli(["sources", "add", "ssh:devbox"], env=env)  # the same source again: its command is replaced
    assert again.returncode == 0
    stored = json.loads((tmp_path / "cfg" / "config.json").read_text())["sources"]
    assert stored == [{"spec": "wsl:Ubuntu"}, {"spec": "docker:web"}, {"spec": "ssh:devbox"}]
    removed = run_cli(["sources", "remove", "wsl:Ubuntu"], env=env)
    assert removed.returncode == 0 and removed.stdout.splitlines()[0] == "removed wsl:Ubuntu"
    assert removed.stdout.splitlines()[1] == "a running tray stops following it by itself: no restart needed"
    missing = run_cli(["sources", "remove", "wsl:Ubuntu"], env=env)
    assert missing.returncode == 1 and "is not a source" in one_line_error(missing)
    assert [s["spec"] for s in json.loads((tmp_path / "cfg" / "config.json").read_text())["sources"]] == [
        "docker:web", "ssh:devbox"]


def test_a_bad_source_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    env = _env(tmp_path)
    for args in (["sources", "add", "ssh:-oProxyCommand=touch x"], ["sources", "add", "devbox"],
                 ["sources", "add", "ssh:devbox", "--command", "'unbalanced"], ["sources", "add"]):
        refused = run_cli(args, env=env)
        assert refused.returncode == 2 and one_line_error(refused)
    assert not (tmp_path / "cfg" / "config.json").exists()


def test_a_broken_config_json_is_never_overwritten_by_sources(tmp_path: Path) -> None:
    env = _env(tmp_path)
    (tmp_path / "cfg").mkdir()
    config = tmp_path / "cfg" / "config.json"
    config.write_text("{ not json")
    refused = run_cli(["sources", "add", "ssh:devbox"], env=env)
    assert refused.returncode == 1 and "unreadable" in one_line_error(refused)
    assert config.read_text() == "{ not json" and sorted(p.name for p in config.parent.iterdir()) == ["config.json"]


def test_unusable_stored_sources_are_warned_about_and_kept(tmp_path: Path) -> None:
    env = _env(tmp_path)
    (tmp_path / "cfg").mkdir()
    config = tmp_path / "cfg" / "config.json"
    config.write_text(json.dumps({"sources": [{"spec": "ssh:-bad"}, {"spec": "ssh:devbox"}], "future": 1}))
    listed = run_cli(["sources", "list"], env=env)
    assert listed.stdout.strip() == "ssh:devbox\torchestray" and "warning: config.json:" in listed.stderr
    assert run_cli(["sources", "add", "wsl:Ubuntu"], env=env).returncode == 0
    stored = json.loads(config.read_text())
    assert stored["sources"] == [{"spec": "ssh:-bad"}, {"spec": "ssh:devbox"}, {"spec": "wsl:Ubuntu"}]
    assert stored["future"] == 1


def test_handover_prints_the_path_or_the_text_and_refuses_where_there_is_none(tmp_path: Path) -> None:
    project = tmp_path / "api"
    (project / "sub").mkdir(parents=True)
    (project / ".git").mkdir()
    none = run_cli(["handover", "--cwd", str(project / "sub")])
    assert none.returncode == 1 and one_line_error(none) == f"orchestray: no HANDOVER.md in {project}"
    (project / "HANDOVER.md").write_text("# Handover\nnext: ship ✓\n", encoding="utf-8")
    where = run_cli(["handover", "--cwd", str(project / "sub")])
    assert where.returncode == 0 and where.stdout == f"{project / 'HANDOVER.md'}\n"
    text = run_cli(["handover", "--print", f"--cwd={project}"])
    assert text.returncode == 0 and text.stdout == "# Handover\nnext: ship ✓\n"
