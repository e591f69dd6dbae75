"""The real Claude Code client with Orchestray's hooks installed, then the install broken (issue 10, item 1).

A throw-away install of Orchestray (its own virtualenv) runs `hooks install` into the client's private
settings.json; the real `claude` runs on a pseudo-terminal against the stand-in API. After a first prompt shows
that the hooks work (SessionStart registered the session), the install is broken the way users break it:

* the package uninstalled (its files removed, what `pip uninstall` does without `hooks uninstall` first),
  with the hooks in exec form (what the installer writes for this client);
* the hook target deleted altogether, interpreter included (a deleted virtualenv), in shell form.

Either way a prompt is still answered, and the turn still ends: no "operation blocked by hook" with the prompt
erased (UserPromptSubmit exit 2), and exactly one request to the API for the prompt (a Stop hook exiting 2 would
send the model back to work with a second request). Before this change the command was `python …/tray/hook.py`,
which exits 2 once the file is gone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
from broken_install import ThrowAwayInstall

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the real client runs on a POSIX pseudo-terminal here")

real_claude = pytest.importorskip("real_claude", reason="the real-client harness (tests/support/real_claude.py)")
claude_api = pytest.importorskip("claude_api", reason="the stand-in API (tests/support/claude_api.py)")

BLOCKED = ("operation blocked by hook", "Original prompt")


@pytest.fixture
def client_binary() -> str:
    require = getattr(real_claude, "require_claude", None)
    if require is not None:
        return str(require())
    try:
        return str(real_claude.claude_binary())
    except real_claude.ClaudeUnavailable as missing:
        if os.environ.get("ORCHESTRAY_REQUIRE_DESKTOP") == "1" and real_claude.registry_unreachable() is None:
            pytest.fail(str(missing))
        pytest.skip(str(missing))


class World:
    """HOME, CLAUDE_CONFIG_DIR, a project, a registry and a log folder of their own; a running stand-in API."""

    def __init__(self, root: Path, binary: str) -> None:
        self.root = root
        self.binary = binary
        self.home, self.config, self.project = root / "home", root / "claude-config", root / "project"
        self.registry, self.logs = root / "registry", root / "logs"
        for folder in (self.home, self.config, self.project, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        real_claude.write_client_config(self.home, self.config, [self.project])
        self.api = claude_api.StandInAPI().start()
        self.clients: List[object] = []

    @property
    def settings(self) -> Path:
        return self.config / "settings.json"

    def env(self) -> Dict[str, str]:
        return real_claude.client_env(self.home, self.config, self.api.url, {
            "ORCHESTRAY_REGISTRY_DIR": str(self.registry), "ORCHESTRAY_LOG_DIR": str(self.logs)})

    def start(self):  # -> real_claude.RealClaude
        log = self.root / f"pty-{len(self.clients)}.log"
        client = real_claude.RealClaude(self.binary, self.project, self.env(), log)
        self.clients.append(client)
        client.wait_ready()
        return client

    def entries(self) -> List[Dict[str, object]]:
        if not self.registry.is_dir():
            return []
        return [json.loads(p.read_text()) for p in self.registry.glob("*.json")]

    def close(self) -> None:
        for client in self.clients:
            client.close()  # type: ignore[attr-defined]
        self.api.stop()


@pytest.fixture
def world(tmp_path: Path, client_binary: str) -> Iterator[World]:
    made = World(tmp_path, client_binary)
    try:
        yield made
    finally:
        made.close()


def install_hooks(world: World, install: ThrowAwayInstall, form: str) -> None:
    env = {k: v for k, v in world.env().items()}
    env["PATH"] = os.environ.get("PATH", "")
    done = install.run("hooks", "install", "--settings", str(world.settings), "--form", form, env=env)
    assert done.returncode == 0, done.stderr
    hooks = json.loads(world.settings.read_text())["hooks"]
    first = hooks["UserPromptSubmit"][0]["hooks"][0]
    assert ("args" in first) == (form == "exec") and install.python in json.dumps(first)


def answered_and_ended(world: World, client, prompt: str, answer: str) -> None:
    """The prompt reaches the model, its answer is shown, and the turn ends with that one request."""
    world.api.when(prompt, claude_api.Text(answer))
    mark = client.prompt(prompt)
    seen = client.wait_for(answer, *BLOCKED, since=mark)
    assert seen == answer, "the prompt was blocked by a hook:\n" + client.tail()
    # The turn is over when the next prompt gets its own answer; a blocking Stop hook would have sent the model
    # back to work with a second request for this prompt first.
    follow, follow_answer = f"then-{answer.lower()}", f"THEN-{answer}"
    world.api.when(follow, claude_api.Text(follow_answer))
    mark = client.prompt(follow)
    assert client.wait_for(follow_answer, *BLOCKED, since=mark) == follow_answer, client.tail()
    for_prompt = [r for r in world.api.main_requests() if prompt in r.last_user_text and follow not in r.last_user_text]
    assert len(for_prompt) == 1, [r.last_user_text[:80] for r in world.api.main_requests()]
    assert not any(needle.replace(" ", "") in "".join(client.text().split()) for needle in BLOCKED)


@pytest.mark.parametrize(("form", "breakage"), [("exec", "uninstall_package"), ("shell", "remove_interpreter")])
def test_a_broken_install_never_blocks_the_real_client(world: World, tmp_path: Path, form: str, breakage: str) -> None:
    install = ThrowAwayInstall(tmp_path / "install")
    install_hooks(world, install, form)
    client = world.start()
    answered_and_ended(world, client, "hello-working", "ANSWER-WORKING")
    assert [entry["sessionId"] for entry in world.entries()]  # SessionStart really ran and registered

    getattr(install, breakage)()
    answered_and_ended(world, client, "hello-broken", "ANSWER-BROKEN")
    # A second session starts and works too (SessionStart broken, silently).
    second = world.start()
    answered_and_ended(world, second, "hello-second", "ANSWER-SECOND")
    assert len(world.entries()) == 1  # the broken hooks did nothing
