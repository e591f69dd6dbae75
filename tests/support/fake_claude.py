"""A stand-in for Claude Code that runs the hooks of a ``settings.json`` the way Claude Code runs them.

Start it as a long-lived process whose executable is named ``claude`` (``tests/e2e/test_hooks_e2e.py`` does)::

    <dir>/claude tests/support/fake_claude.py --settings SETTINGS_JSON

**Why a symlink named ``claude`` is enough (checked on Linux, Python 3.11, psutil 7).** ``psutil.Process.name()``
reads ``/proc/PID/comm``, which the kernel sets from the last component of the *path given to execve*, not from
the file the symlink points to: a symlink ``/tmp/x/claude -> /work/venv/bin/python`` gives ``name() ==
"claude"`` (while ``exe()`` shows the real interpreter and ``cmdline()[0]`` the link). That is exactly what
``tray.core.ancestry`` looks for, and what the native Claude Code binary looks like. No copy of the interpreter and
no compiled helper are needed. Caveat: Python looks for ``pyvenv.cfg`` next to the path it was started by, so a
link outside the virtualenv runs the *base* interpreter without the virtualenv's packages: this file therefore
uses the standard library only. (The hooks themselves run the interpreter named in their command, the
virtualenv's, so they do have psutil.)

What it does, like Claude Code 2.1 (docs/protocol.md, "Claude Code's hooks, as they really behave"):

* reads ``settings.json`` once per event (Claude Code watches it; re-reading is the simple equivalent) and
  takes every ``{"type": "command"}`` hook of the event's groups whose ``matcher`` is empty, missing or ``*``
  (exec form, ``"args"`` present, runs the program directly; shell form through ``/bin/sh -c``);
  identical command strings run once (Claude Code de-duplicates them); all of them run in parallel;
* runs each as ``/bin/sh -c COMMAND``, a direct child of this process, in the session's ``cwd``, with this
  process's environment plus ``CLAUDE_CODE_SESSION_ID``, ``CLAUDE_PROJECT_DIR`` and ``CLAUDECODE=1``;
* writes the hook JSON on its stdin (compact UTF-8, non-ASCII characters unescaped, as ``JSON.stringify``
  writes it) and closes it; kills the hook after its ``timeout`` seconds (default 60). The hook gets a process
  group of its own so that the kill reaches everything it started (whether Claude Code does the same is not
  known; nothing here depends on it);
* for ``SessionStart`` and ``UserPromptSubmit`` with exit code 0, derives what the model would get as context:
  the ``hookSpecificOutput.additionalContext`` of a JSON stdout (whose ``hookEventName`` must name the event),
  else the plain stdout text.

Protocol: one command per line on stdin, one JSON object per line on stdout in reply, in order. Words are
split like a POSIX shell would, except that the TEXT of ``prompt``/``notify`` and the last argument of
``raw``/``payload`` are the rest of the line after a single space, verbatim (they can be megabytes):

    pid                                  -> {"ok": true, "pid": PID}
    start SESSION CWD [SOURCE]           SessionStart (source startup|resume|clear|compact, default startup)
    prompt SESSION TEXT...               UserPromptSubmit
    stop SESSION                         Stop (after every answer of the model)
    notify SESSION TEXT...               Notification
    end SESSION [REASON]                 SessionEnd (reason default "other")
    clear OLD NEW [noend]                /clear: SessionEnd(OLD, reason "clear"), then SessionStart(NEW, source
                                         "clear") in the same cwd; ``noend`` skips the SessionEnd (a hook
                                         that timed out or was missed)
    raw EVENT SESSION|- BASE64           run EVENT's hooks with exactly these bytes on stdin; ``-`` leaves
                                         CLAUDE_CODE_SESSION_ID unset (EVENT, SESSION: plain words)
    payload EVENT SESSION|- TEXT         run EVENT's hooks with this text (UTF-8) on stdin
    quit

A hook-running reply: ``{"ok": true, "event": EVENT, "session": SESSION, "hooks": [RESULT...], "context":
[TEXT...]}`` (``clear`` replies ``{"ok": true, "steps": [REPLY, REPLY]}``), where each RESULT is
``{"command", "exit_code", "stdout", "stderr", "timed_out", "stdin_error", "shell_pid", "seconds",
"json_error", "context"}`` (``{"command", "exit_code": null, "error"}`` when it could not even be started, e.g.
its cwd is gone). ``stdin_error`` is set when the hook closed its stdin before reading all of it (the write got
EPIPE): Claude Code 1.0.40 crashed on that (anthropics/claude-code#2834) and other hosts report a failed
hook, so a well-behaved hook reads all of its stdin.
A bad command replies ``{"ok": false, "error": TEXT}`` and the fake carries on.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid
from typing import Any, Dict, List, Optional

CONTEXT_EVENTS = ("SessionStart", "UserPromptSubmit")
EVENTS = ("SessionStart", "UserPromptSubmit", "SessionEnd", "Stop", "StopFailure", "Notification")
DEFAULT_TIMEOUT = 60.0


class FakeClaude:
    def __init__(self, settings: str, default_timeout: float = DEFAULT_TIMEOUT) -> None:
        self.settings = settings
        self.default_timeout = default_timeout
        self.sessions: Dict[str, str] = {}  # session id -> cwd
        self.project_dir: Optional[str] = None  # the folder of the first session (Claude Code's project dir)
        self.config_dir = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")

    # ---- settings -------------------------------------------------------------------------------------

    def hooks_for(self, event: str) -> List[Dict[str, Any]]:
        with open(self.settings, encoding="utf-8-sig") as handle:
            data = json.load(handle)
        found: List[Dict[str, Any]] = []
        seen = set()
        for group in (data.get("hooks") or {}).get(event) or []:
            if not isinstance(group, dict) or group.get("matcher", "") not in ("", "*", None):
                continue
            for hook in group.get("hooks") or []:
                if not isinstance(hook, dict) or hook.get("type") != "command":
                    continue
                command = hook.get("command")
                args = hook.get("args")
                if isinstance(args, list) and all(isinstance(a, str) for a in args) and isinstance(command, str):
                    command = [command, *args]  # exec form (Claude Code 2.1.139+): the program, no shell
                key = json.dumps(command)
                if not isinstance(command, (str, list)) or key in seen:
                    continue
                seen.add(key)
                timeout = hook.get("timeout")
                seconds = float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else self.default_timeout
                found.append({"command": command, "timeout": seconds})
        return found

    # ---- payloads -------------------------------------------------------------------------------------

    def transcript_path(self, session: str, cwd: str) -> str:
        folder = cwd.replace(os.sep, "-").replace(".", "-")
        return os.path.join(self.config_dir, "projects", folder, f"{session}.jsonl")

    def payload(self, event: str, session: str, cwd: str, **fields: Any) -> bytes:
        data: Dict[str, Any] = {
            "session_id": session,
            "transcript_path": self.transcript_path(session, cwd),
            "cwd": cwd,
            "hook_event_name": event,
        }
        data.update(fields)
        # Like JSON.stringify: compact, non-ASCII characters as UTF-8 rather than \u escapes.
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    # ---- running hooks --------------------------------------------------------------------------------

    def run_event(self, event: str, session: Optional[str], cwd: str, stdin: bytes) -> Dict[str, Any]:
        env = dict(os.environ)
        env["CLAUDECODE"] = "1"
        env["CLAUDE_PROJECT_DIR"] = self.project_dir or cwd
        if session is None:
            env.pop("CLAUDE_CODE_SESSION_ID", None)
        else:
            env["CLAUDE_CODE_SESSION_ID"] = session
        hooks = self.hooks_for(event)
        results: List[Optional[Dict[str, Any]]] = [None] * len(hooks)

        def work(index: int, hook: Dict[str, Any]) -> None:
            try:
                results[index] = run_hook(hook["command"], hook["timeout"], cwd, env, stdin, event)
            except Exception as error:  # noqa: BLE001 - e.g. the cwd is gone: Claude Code reports a hook error
                results[index] = {"command": hook["command"], "exit_code": None, "error": repr(error)}

        threads = [threading.Thread(target=work, args=(i, h), daemon=True) for i, h in enumerate(hooks)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done = [r for r in results if r is not None]
        context = [r["context"] for r in done if r.get("context")]
        return {"ok": True, "event": event, "session": session, "hooks": done, "context": context}

    # ---- commands -------------------------------------------------------------------------------------

    def session_cwd(self, session: str) -> str:
        if session not in self.sessions:
            raise ValueError(f"unknown session {session!r}: start it first")
        return self.sessions[session]

    def start(self, session: str, cwd: str, source: str = "startup") -> Dict[str, Any]:
        cwd = os.path.abspath(cwd)
        self.sessions[session] = cwd
        if self.project_dir is None:
            self.project_dir = cwd
        return self.run_event("SessionStart", session, cwd, self.payload("SessionStart", session, cwd, source=source))

    def prompt(self, session: str, text: str) -> Dict[str, Any]:
        cwd = self.session_cwd(session)
        body = self.payload(
            "UserPromptSubmit",
            session,
            cwd,
            permission_mode="default",
            prompt=text,
            prompt_id=str(uuid.uuid4()),
        )
        return self.run_event("UserPromptSubmit", session, cwd, body)

    def stop(self, session: str) -> Dict[str, Any]:
        cwd = self.session_cwd(session)
        body = self.payload("Stop", session, cwd, permission_mode="default", stop_hook_active=False)
        return self.run_event("Stop", session, cwd, body)

    def notify(self, session: str, text: str) -> Dict[str, Any]:
        cwd = self.session_cwd(session)
        body = self.payload("Notification", session, cwd, message=text, notification_type="idle_prompt")
        return self.run_event("Notification", session, cwd, body)

    def end(self, session: str, reason: str = "other") -> Dict[str, Any]:
        cwd = self.session_cwd(session)
        reply = self.run_event("SessionEnd", session, cwd, self.payload("SessionEnd", session, cwd, reason=reason))
        self.sessions.pop(session, None)
        return reply

    def clear(self, old: str, new: str, with_end: bool = True) -> Dict[str, Any]:
        cwd = self.session_cwd(old)
        steps = [self.end(old, "clear")] if with_end else []
        self.sessions.pop(old, None)
        steps.append(self.start(new, cwd, "clear"))
        return {"ok": True, "steps": steps}

    def raw(self, event: str, session: str, body: bytes) -> Dict[str, Any]:
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}")
        sid = None if session == "-" else session
        cwd = self.sessions.get(sid or "", self.project_dir or os.getcwd())
        return self.run_event(event, sid, cwd, body)

    def handle(self, line: str) -> Optional[Dict[str, Any]]:
        line = line.rstrip("\r\n")
        head = line.split(None, 1)
        if not head:
            return None
        # Text and payloads are the rest of the line, taken verbatim (and fast: they may be megabytes).
        if head[0] in ("prompt", "notify"):
            words = line.split(" ", 2)
            words += [""] * (3 - len(words))
        elif head[0] in ("raw", "payload"):
            words = line.split(" ", 3)
        else:
            words = shlex.split(line)
        verb, args = words[0], words[1:]
        if verb == "pid":
            return {"ok": True, "pid": os.getpid()}
        if verb == "start" and len(args) in (2, 3):
            return self.start(*args)
        if verb == "prompt" and args[0]:
            return self.prompt(args[0], args[1])
        if verb == "stop" and len(args) == 1:
            return self.stop(args[0])
        if verb == "notify" and args[0]:
            return self.notify(args[0], args[1])
        if verb == "end" and len(args) in (1, 2):
            return self.end(*args)
        if verb == "clear" and len(args) in (2, 3) and args[2:] in ([], ["noend"]):
            return self.clear(args[0], args[1], with_end=args[2:] != ["noend"])
        if verb == "raw" and len(args) == 3:
            return self.raw(args[0], args[1], base64.b64decode(args[2]))
        if verb == "payload" and len(args) == 3:
            return self.raw(args[0], args[1], args[2].encode("utf-8"))
        raise ValueError(f"bad command {line.strip()!r}")


def run_hook(command: Any, timeout: float, cwd: str, env: Dict[str, str], stdin: bytes, event: str) -> Dict[str, Any]:
    """Run one hook command as Claude Code does and collect what Claude Code would see.

    ``command``: a shell command line (``/bin/sh -c``), or an exec-form argv list (run directly, no shell).
    """
    began = time.monotonic()
    process = subprocess.Popen(
        command if isinstance(command, list) else ["/bin/sh", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # so a timeout can kill the hook and everything it started
    )
    outputs: Dict[str, bytes] = {}
    stdin_error: List[str] = []

    def feed() -> None:
        assert process.stdin is not None
        try:
            process.stdin.write(stdin)
            process.stdin.flush()
        except BrokenPipeError:
            stdin_error.append("EPIPE: the hook exited without reading all of its stdin")
        except OSError as error:
            stdin_error.append(f"stdin write failed: {error}")
        finally:
            try:
                process.stdin.close()
            except OSError:
                pass

    def drain(name: str, stream: Any) -> None:
        outputs[name] = stream.read()

    threads = [
        threading.Thread(target=feed, daemon=True),
        threading.Thread(target=drain, args=("stdout", process.stdout), daemon=True),
        threading.Thread(target=drain, args=("stderr", process.stderr), daemon=True),
    ]
    for thread in threads:
        thread.start()
    timed_out = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        process.wait()
    for thread in threads:
        thread.join(timeout=5)
    stdout = outputs.get("stdout", b"").decode("utf-8", "replace")
    stderr = outputs.get("stderr", b"").decode("utf-8", "replace")
    result: Dict[str, Any] = {
        "command": command,
        "exit_code": process.returncode,
        "stdout": stdout,
        "stderr": stderr,
        "timed_out": timed_out,
        "stdin_error": stdin_error[0] if stdin_error else None,
        "shell_pid": process.pid,
        "seconds": round(time.monotonic() - began, 3),
        "json_error": None,
        "context": None,
    }
    if process.returncode == 0 and stdout.strip():
        context, error = interpret_stdout(stdout, event)
        result["json_error"] = error
        if event in CONTEXT_EVENTS:
            result["context"] = context
    return result


def interpret_stdout(stdout: str, event: str):
    """(context text, error): JSON output is validated as Claude Code does; other text is plain context."""
    text = stdout.strip()
    if not text.startswith("{"):
        return text, None
    try:
        data = json.loads(text)
    except ValueError as error:
        return text, f"stdout looks like JSON but is not: {error}"
    if not isinstance(data, dict):
        return text, "stdout JSON is not an object"
    specific = data.get("hookSpecificOutput")
    if specific is None:
        return None, None
    if not isinstance(specific, dict) or specific.get("hookEventName") != event:
        return None, f"hookSpecificOutput.hookEventName must be {event!r}"
    context = specific.get("additionalContext")
    if context is not None and not isinstance(context, str):
        return None, "additionalContext must be a string"
    return context, None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", required=True, help="the settings.json whose hooks to run")
    parser.add_argument("--default-timeout", type=float, default=DEFAULT_TIMEOUT)
    args = parser.parse_args(argv)
    fake = FakeClaude(os.path.abspath(args.settings), args.default_timeout)
    out = sys.stdout  # replies are ASCII (json.dumps escapes the rest)
    for raw_line in sys.stdin.buffer:  # commands are UTF-8 whatever the locale (PYTHONIOENCODING is for hooks)
        line = raw_line.decode("utf-8", "surrogateescape")
        if line.strip() == "quit":
            break
        try:
            reply = fake.handle(line)
        except Exception as error:  # noqa: BLE001 - report and carry on, like a terminal UI would
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        if reply is not None:
            out.write(json.dumps(reply) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
