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

import pytest
from broken_install import ThrowAwayInstall
from claude_api import Text
from real_claude import ClaudeWorld, require_claude

from tray.hooks.invocation import FORM_EXEC, detect_form

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the real client runs on a POSIX pseudo-terminal here")

BLOCKED = ("operation blocked by hook", "Original prompt")


def install_hooks(world: ClaudeWorld, install: ThrowAwayInstall, form: str) -> None:
    """The throw-away install's own `hooks install` into the world's settings (replacing the hooks there)."""
    # This `claude` first on PATH, as for a user: install asks it which form and which events it knows.
    env = dict(world.env, PATH=os.pathsep.join([os.path.dirname(world.binary), os.environ.get("PATH", "")]))
    done = install.run("hooks", "install", "--settings", str(world.settings), "--form", form, env=env)
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


@pytest.mark.parametrize(("form", "breakage"), [("exec", "uninstall_package"), ("shell", "remove_interpreter")])
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


def test_the_real_client_says_it_has_exec_form_hooks() -> None:
    """`hooks install --form auto` asks `claude --version`: the pinned client must get the exec form."""
    assert detect_form(require_claude()) == FORM_EXEC
