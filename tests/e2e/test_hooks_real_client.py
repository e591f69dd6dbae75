"""The real Claude Code client with Orchestray's hooks installed, then the install broken (issue 10, item 1).

A throw-away install of Orchestray (its own virtualenv) runs `hooks install` into the client's private
settings.json; the real `claude` runs on a pseudo-terminal against the stand-in API. After a first prompt shows
that the hooks work (SessionStart registered the session), the install is broken the way users break it:

* the package uninstalled (its files removed, what `pip uninstall` does without `hooks uninstall` first);
* one of its modules failing to import (a half-done upgrade);
* the hook target deleted altogether, interpreter included (a deleted virtualenv);

each with the hooks in exec form (what the installer writes for this client) and in shell form.

Either way a prompt is still answered, and the turn still ends: no "operation blocked by hook" with the prompt
erased (UserPromptSubmit exit 2), and exactly one request to the API for the prompt (a Stop hook exiting 2 would
send the model back to work with a second request). Before this change the command was `python …/tray/hook.py`,
which exits 2 once the file is gone. Then the Orchestray the user still has (this checkout's) finds the broken
hooks (`hooks status`: exit 1, one line per hook), `hooks install` repairs them, and a new session registers.

The installer's round trip around real sessions: a tab-indented `settings.json` with inline objects and a hook of
the user's own comes back byte for byte after `hooks uninstall`, the user's hook running beside ours meanwhile;
a `settings.json` that `hooks install` created is gone again after `hooks uninstall`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest
from broken_install import ThrowAwayInstall
from claude_api import Text
from full_disk import FullDiskUnavailable, full_filesystem
from real_claude import REQUIRE_ENV, ClaudeWorld, require_claude, wait_until

from tray.hooks.events import HOOK_EVENTS
from tray.hooks.invocation import FORM_EXEC, detect_form

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the real client runs on a POSIX pseudo-terminal here")

BLOCKED = ("operation blocked by hook", "Original prompt")


def client_on_path(world: ClaudeWorld) -> Dict[str, str]:
    """The world's environment with this `claude` first on PATH, as for a user: `hooks install` and `status`
    ask it which form and which events it knows."""
    return dict(world.env, PATH=os.pathsep.join([os.path.dirname(world.binary), os.environ.get("PATH", "")]))


def orchestray(world: ClaudeWorld, *args: str) -> subprocess.CompletedProcess:
    """This checkout's own `orchestray` (the Orchestray the user still has), with the world's Claude Code."""
    env = {k: v for k, v in client_on_path(world).items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([sys.executable, "-m", "tray", *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False, stdin=subprocess.DEVNULL)


def install_hooks(world: ClaudeWorld, install: ThrowAwayInstall, form: str) -> None:
    """The throw-away install's own `hooks install` into the world's settings (replacing the hooks there)."""
    done = install.run("hooks", "install", "--settings", str(world.settings), "--form", form, env=client_on_path(world))
    assert done.returncode == 0, done.stderr
    hooks = json.loads(world.settings.read_text())["hooks"]
    for groups in hooks.values():
        (group,) = groups
        (hook,) = group["hooks"]
        assert ("args" in hook) == (form == "exec") and install.python in json.dumps(hook)


def answered_and_ended(world: ClaudeWorld, client, prompt: str, answer: str) -> None:  # client: RealClaude
    """The prompt reaches the model, its answer is shown, and the turn ends with that one request."""
    world.api.when(prompt, Text(answer))
    mark = client.prompt(prompt)
    seen = client.wait_for(answer, *BLOCKED, since=mark)
    assert seen == answer, "the prompt was blocked by a hook:\n" + client.tail()
    # The turn is over when the next prompt gets its own answer; a blocking Stop hook would have sent the model
    # back to work with a second request for this prompt first.
    follow, follow_answer = f"then-{answer.lower()}", f"THEN-{answer}"
    world.api.when(follow, Text(follow_answer))
    mark = client.prompt(follow)
    assert client.wait_for(follow_answer, *BLOCKED, since=mark) == follow_answer, client.tail()
    for_prompt = [r for r in world.api.main_requests() if prompt in r.last_user_text and follow not in r.last_user_text]
    assert len(for_prompt) == 1, [r.last_user_text[:80] for r in world.api.main_requests()]
    assert not any(needle.replace(" ", "") in "".join(client.text().split()) for needle in BLOCKED)


@pytest.mark.parametrize("form", ["exec", "shell"])
@pytest.mark.parametrize("breakage", ["uninstall_package", "break_import", "remove_interpreter"])
def test_a_broken_install_never_blocks_the_real_client(
    claude_world: ClaudeWorld, tmp_path: Path, form: str, breakage: str
) -> None:
    install = ThrowAwayInstall(tmp_path / "install")
    install_hooks(claude_world, install, form)
    project = tmp_path / "project"
    project.mkdir()
    client = claude_world.start(project)
    claude_world.wait_entry(client, "registered at start by the throw-away install's SessionStart hook")
    answered_and_ended(claude_world, client, "hello-working", "ANSWER-WORKING")

    getattr(install, breakage)()
    answered_and_ended(claude_world, client, "hello-broken", "ANSWER-BROKEN")
    # A second session starts and works too; its SessionStart hook, broken, does nothing, silently.
    second = claude_world.start(project)
    answered_and_ended(claude_world, second, "hello-second", "ANSWER-SECOND")
    assert [entry["pid"] for entry in claude_world.entries()] == [client.pid]

    # The Orchestray the user still has names each broken hook, and `hooks install` repairs them all.
    installed = [event for event in HOOK_EVENTS if event in json.loads(claude_world.settings.read_text())["hooks"]]
    status = orchestray(claude_world, "hooks", "status", "--settings", str(claude_world.settings))
    assert status.returncode == 1, status.stdout + status.stderr
    lines = status.stderr.strip().splitlines()
    assert [line.split(" hook is broken: ")[0] for line in lines] == [f"orchestray: {e}" for e in installed]
    assert len(installed) == 6 and all(line.endswith("run `orchestray hooks install`") for line in lines)
    repaired = orchestray(claude_world, "hooks", "install", "--settings", str(claude_world.settings))
    assert repaired.returncode == 0, repaired.stderr
    healthy = orchestray(claude_world, "hooks", "status", "--settings", str(claude_world.settings))
    assert healthy.returncode == 0 and not healthy.stderr, healthy.stdout + healthy.stderr
    third = claude_world.start(project)
    assert claude_world.wait_entry(third, "registered by the repaired SessionStart hook")["role"] == "worker"
    answered_and_ended(claude_world, third, "hello-repaired", "ANSWER-REPAIRED")


def test_the_real_client_says_it_has_exec_form_hooks() -> None:
    """`hooks install --form auto` asks `claude --version`: the pinned client must get the exec form."""
    assert detect_form(require_claude()) == FORM_EXEC


def test_a_full_disk_never_blocks_the_real_client(claude_world: ClaudeWorld, tmp_path: Path) -> None:
    """The registry and the log on a full file system: sessions start, prompts are answered and turns end, and
    nothing half-written is left behind (no entry, no temporary file; an unreadable entry would be a corrupt one).
    The same for every hook, run exactly as Claude Code runs it, is in `test_hooks_never_block.py`."""
    try:
        disk = full_filesystem(tmp_path / "full", folders=("registry", "logs"))
        mount = disk.__enter__()
    except FullDiskUnavailable as missing:
        if os.environ.get(REQUIRE_ENV) == "1" or os.environ.get("ORCHESTRAY_REQUIRE_DESKTOP") == "1":
            pytest.fail(f"{missing} (run the tests as root, or with password-less sudo)")
        pytest.skip(str(missing))
    try:
        claude_world.registry, claude_world.logs = mount / "registry", mount / "logs"
        project = tmp_path / "project"
        project.mkdir()
        first = claude_world.start(project)
        answered_and_ended(claude_world, first, "hello-full", "ANSWER-FULL")
        assert claude_world.entries() == []  # the disk is full indeed: SessionStart could not register it
        second = claude_world.start(project)
        answered_and_ended(claude_world, second, "hello-second", "ANSWER-SECOND")
        first.slash("/exit")
        assert first.wait_exit() == 0
        second.process.terminate()  # SIGTERM: SessionEnd runs too
        second.wait_exit()
        files = sorted(str(p.relative_to(mount)) for p in mount.rglob("*") if p.is_file())
        assert [name for name in files if name.endswith(".json") or ".tmp" in name or "tmp." in name] == [], files
    finally:
        for client in claude_world.clients:  # ended by PID before the unmount (the world closes their terminals)
            if client.process.poll() is None:
                client.process.kill()
                client.process.wait(timeout=60)
        disk.__exit__(None, None, None)


#: A settings file as a person might have written it: tabs, objects on one line, a SessionStart hook of their own.
TABBED_INLINE = (
    '{\n\t"permissions": { "defaultMode": "default", "allow": [] },\n\t"cleanupPeriodDays": 30,\n'
    '\t"hooks": {\n\t\t"SessionStart": [ { "hooks": [ { "type": "command", "command": "touch user-hook-ran" } ] } ]\n'
    '\t},\n\t"env": {"ORCHESTRAY_TEST_MARK": "1"}\n}\n'
)


def backups(world: ClaudeWorld) -> List[str]:
    return sorted(name for name in os.listdir(world.config) if name.startswith("settings.json."))


def test_settings_round_trip_around_real_sessions(claude_world: ClaudeWorld, tmp_path: Path) -> None:
    """`hooks install` then `hooks uninstall` (the CLI) around real sessions: the user's layout and hook survive,
    and a settings file that install created goes again."""
    world = claude_world
    world.settings.write_text(TABBED_INLINE, encoding="utf-8")
    done = orchestray(world, "hooks", "install")  # the default file: $CLAUDE_CONFIG_DIR/settings.json
    assert done.returncode == 0, done.stderr
    installed = world.settings.read_text(encoding="utf-8")
    assert installed.splitlines()[1] == TABBED_INLINE.splitlines()[1]  # the inline object, on its tabbed line
    assert set(json.loads(installed)["hooks"]) == set(HOOK_EVENTS)

    project = tmp_path / "project"
    project.mkdir()
    client = world.start(project)
    world.wait_entry(client, "registered by our SessionStart hook")
    wait_until(lambda: (project / "user-hook-ran").exists(), 60, "the user's own SessionStart hook to run")
    answered_and_ended(world, client, "hello-layout", "ANSWER-LAYOUT")
    client.slash("/exit")
    assert client.wait_exit() == 0
    wait_until(lambda: world.entries() == [], 60, "SessionEnd to deregister")

    removed = orchestray(world, "hooks", "uninstall")
    assert removed.returncode == 0, removed.stderr
    assert world.settings.read_text(encoding="utf-8") == TABBED_INLINE

    # No settings file at all: install creates one, uninstall removes it (nothing of the user's is in it).
    world.settings.unlink()
    before = backups(world)
    created = orchestray(world, "hooks", "install")
    assert created.returncode == 0 and "backup" not in created.stdout, created.stdout + created.stderr
    client = world.start(project)
    world.wait_entry(client, "registered by the hooks of the created file")
    client.slash("/exit")
    assert client.wait_exit() == 0
    removed = orchestray(world, "hooks", "uninstall")
    assert removed.returncode == 0 and "the file is gone" in removed.stdout, removed.stdout + removed.stderr
    assert not world.settings.exists() and backups(world) == before
