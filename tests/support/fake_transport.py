"""A recorded fake of `wsl.exe` or `docker`, for the tests of other sources (neither can run on a Linux CI).

Run as a program: `python fake_transport.py KIND LOG REPLIES [transport arguments...]`, which is what a test puts
in `ORCHESTRAY_WSL_COMMAND` / `ORCHESTRAY_DOCKER_COMMAND` (split like a shell, so the paths ride along). It:

1. appends its own argument list (after the three above) to LOG, one JSON line per call: what the product ran;
2. replays the first recorded answer in REPLIES (a JSON list) whose `match` words all appear in that list:
   `stdout`, `stderr` (written as UTF-16 when `utf16`, as wsl.exe writes its own messages), `code`;
3. without a recorded answer, checks the transport's own arguments as the real program reads them
   (`-d DISTRO --exec PROGRAM...` for wsl, `exec CONTAINER PROGRAM...` for docker) and runs PROGRAM... here,
   with no shell, as both do over there: the "distribution" is this machine with its own registry folder.

The answers in `RECORDED` are what the real programs print (wsl.exe 2.x on Windows 11, docker 24/26).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any, Dict, List

HERE = os.path.abspath(__file__)

RECORDED: Dict[str, Dict[str, Any]] = {
    # wsl.exe -d Nope --exec ...: its own message, in UTF-16, and exit code 0xFFFFFFFF (255 on Linux)
    "wsl-no-distro": {"stderr": "There is no distribution with the supplied name.\r\n"
                                "Error code: Wsl/Service/WSL_E_DISTRO_NOT_FOUND\r\n", "utf16": True, "code": 255},
    # wsl.exe --exec orchestray where it is not installed (or not on the PATH --exec sees)
    "wsl-not-installed": {"stderr": "<3>WSL (1234) ERROR: CreateProcessCommon:559: execvpe(orchestray) failed: "
                                    "No such file or directory\n", "code": 127},
    "docker-no-container": {"stderr": "Error response from daemon: No such container: web\n", "code": 1},
    "docker-stopped": {"stderr": "Error response from daemon: container 3f5c0b2 is not running\n", "code": 1},
    "docker-not-installed": {"stderr": 'OCI runtime exec failed: exec failed: unable to start container process: '
                                       'exec: "orchestray": executable file not found in $PATH: unknown\n',
                             "code": 127},
    "docker-no-daemon": {"stderr": "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
                                   "Is the docker daemon running?\n", "code": 1},
}


class FakeTransport:
    """One fake program for one test: its command line, what it was asked, and what it answers."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind = kind
        self.log = folder / f"{kind}-calls.jsonl"
        self.replies_path = folder / f"{kind}-replies.json"
        self.replies: List[Dict[str, Any]] = []
        self._save()

    @property
    def command(self) -> str:
        """The value of ORCHESTRAY_WSL_COMMAND / ORCHESTRAY_DOCKER_COMMAND."""
        return shlex.join([sys.executable, HERE, self.kind, str(self.log), str(self.replies_path)])

    @property
    def variable(self) -> str:
        return {"wsl": "ORCHESTRAY_WSL_COMMAND", "docker": "ORCHESTRAY_DOCKER_COMMAND"}[self.kind]

    def reply(self, match: List[str], recorded: str = "", **answer: Any) -> None:
        """Answer every call holding all `match` words with a recorded answer (by name) or the given one."""
        self.replies.insert(0, {"match": match, **(RECORDED[recorded] if recorded else {}), **answer})
        self._save()

    def clear(self) -> None:
        self.replies = []
        self._save()

    def calls(self) -> List[List[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def _save(self) -> None:
        self.replies_path.write_text(json.dumps(self.replies))


def main(argv: List[str]) -> int:
    kind, log, replies_path, *args = argv
    with open(log, "a", encoding="utf-8") as out:
        out.write(json.dumps(args) + "\n")
    for reply in json.loads(Path(replies_path).read_text()):
        if all(word in args for word in reply["match"]):
            sys.stdout.write(reply.get("stdout", ""))
            sys.stdout.flush()
            err = reply.get("stderr", "")
            sys.stderr.buffer.write(err.encode("utf-16-le") if reply.get("utf16") else err.encode("utf-8"))
            return int(reply.get("code", 0))
    if kind == "wsl":
        if len(args) < 4 or args[0] != "-d" or args[2] != "--exec":
            sys.stderr.buffer.write("Invalid command line argument\r\n".encode("utf-16-le"))
            return 255
        program = args[3:]
    else:
        if len(args) < 3 or args[0] != "exec":
            sys.stderr.write("docker: 'exec' requires at least 2 arguments.\n")
            return 1
        program = args[2:]
    try:
        os.execvp(program[0], program)
    except OSError as error:  # as both say it over there: the program is not found
        sys.stderr.write(f"exec: {program[0]!r}: executable file not found in $PATH: {error.strerror}\n")
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
