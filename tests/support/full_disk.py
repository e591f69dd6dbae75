"""A file system of its own, filled to the last byte: where a test puts the registry and the log to see what a
full disk does to the hooks.

:func:`full_filesystem` mounts a small tmpfs (as root, or through ``sudo -n``, which `.ci/run`'s machine has),
creates the folders asked for while there is still room (the registry existed before the disk filled up), then
fills the rest with one file until the kernel says ENOSPC. It is unmounted (lazily, so a straggling process cannot
keep it) when the block ends. Why a tmpfs and not ``RLIMIT_FSIZE``: the limit holds for the whole process tree, and
the real Claude Code client cannot start when it cannot write its own files (observed with 2.1.332), while a user's
full disk may well leave Claude Code's own folder writable on another file system.
"""

from __future__ import annotations

import errno
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Sequence


class FullDiskUnavailable(Exception):
    """No tmpfs can be mounted here (not root, no password-less sudo, or no right to mount)."""


def _privileged() -> List[str]:
    return [] if os.geteuid() == 0 else ["sudo", "-n"]


@contextmanager
def full_filesystem(mountpoint: Path, folders: Sequence[str] = (), size_kib: int = 256) -> Iterator[Path]:
    """Mount a tmpfs at `mountpoint`, make `folders` in it, fill it; unmount at the end."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run([*_privileged(), "mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0777", "tmpfs",
                               str(mountpoint)], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise FullDiskUnavailable(f"cannot run mount: {error}") from None
    if done.returncode != 0:
        raise FullDiskUnavailable(f"cannot mount a tmpfs at {mountpoint}: {done.stderr.strip() or done.returncode}")
    try:
        for folder in folders:
            (mountpoint / folder).mkdir(mode=0o700, parents=True)
        fd = os.open(mountpoint / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            block = b"\0" * 4096
            while True:
                try:
                    written = os.write(fd, block)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
                if written < len(block):
                    block = block[written:] or b"\0"
        finally:
            os.close(fd)
        yield mountpoint
    finally:
        subprocess.run([*_privileged(), "umount", "-l", str(mountpoint)], capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL, check=False)
