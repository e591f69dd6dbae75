"""The tray's cache of parsed registry and activity files (`tray/core/readcache.py`): a look reads only the files
that changed, and never serves what a file no longer says.

Each test compares against what an uncached read returns at the same moment, the answer the tray gave before the
cache existed. Files are written the way writers write them (atomic replace), edited in place, removed, and
swapped for a FIFO or a symlink; the counts of files read say what the cache saved.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import List

import pytest
from helpers import write_entry

from tray.core import activity
from tray.core.entry import Entry, Unreadable
from tray.core.readcache import ReadCache
from tray.core.registry import Registry
from tray.core.snapshot import build_snapshot

pytestmark = pytest.mark.timeout(60)  # a FIFO that blocked a read would hang: fail instead

CWD = "/home/user/project"


def fresh(reg: Registry) -> List[object]:
    return reg.scan()


def cache_now() -> ReadCache:
    """A cache that trusts a file as soon as it was read: what the tray's does for files older than a second.
    (A file written in the same clock tick as its previous version is the one case this cannot tell: see
    test_a_young_file_is_read_again.)"""
    return ReadCache(racy_seconds=0.0)


def registry_with(tmp_path: Path, count: int) -> Registry:
    reg = Registry(str(tmp_path / "registry"))
    for index in range(count):
        write_entry(reg.directory, f"s{index}", os.getpid(), CWD, "worker")
    return reg


def test_an_unchanged_registry_is_not_read_again(tmp_path: Path) -> None:
    reg = registry_with(tmp_path, 20)
    cache = cache_now()
    first = reg.scan(cache)
    assert cache.reads == 20 and first == fresh(reg)
    second = reg.scan(cache)
    assert cache.reads == 20, "the second look read files that had not changed"
    assert second == fresh(reg)


def test_an_atomic_replace_is_seen_even_with_the_same_size_and_mtime(tmp_path: Path) -> None:
    reg = registry_with(tmp_path, 3)
    cache = cache_now()
    reg.scan(cache)
    path = os.path.join(reg.directory, "s1.json")
    before = os.stat(path)
    data = json.loads(Path(path).read_text())
    data["role"] = "vacating"[: len("worker")]  # same length: "vacati" is not a role, so it is unreadable
    Path(path + ".tmp").write_text(json.dumps(data, indent=2))
    os.replace(path + ".tmp", path)  # an atomic replace: a new inode
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_size == before.st_size and os.stat(path).st_mtime_ns == before.st_mtime_ns
    scanned = reg.scan(cache)
    assert scanned == fresh(reg)
    changed = [record for record in scanned if record.session_id == "s1"][0]
    assert isinstance(changed, Unreadable) and "role" in changed.error


def test_an_edit_in_place_is_seen(tmp_path: Path) -> None:
    reg = registry_with(tmp_path, 3)
    cache = cache_now()
    reg.scan(cache)
    path = os.path.join(reg.directory, "s2.json")
    data = json.loads(Path(path).read_text())
    data["role"] = "orchestrator"
    with open(path, "w", encoding="utf-8") as handle:  # another tool, writing without a temp file
        json.dump(data, handle)
    scanned = reg.scan(cache)
    assert scanned == fresh(reg)
    assert [r.role for r in scanned if isinstance(r, Entry) and r.session_id == "s2"] == ["orchestrator"]


def test_a_removed_file_disappears_and_is_forgotten(tmp_path: Path) -> None:
    reg = registry_with(tmp_path, 5)
    cache = cache_now()
    reg.scan(cache)
    os.unlink(os.path.join(reg.directory, "s3.json"))
    scanned = reg.scan(cache)
    assert "s3" not in [r.session_id for r in scanned]
    assert scanned == fresh(reg) and len(cache) == 4


def test_a_file_swapped_for_a_fifo_or_a_link_is_refused_without_blocking(tmp_path: Path) -> None:
    reg = registry_with(tmp_path, 3)
    cache = cache_now()
    reg.scan(cache)
    fifo, link = os.path.join(reg.directory, "s0.json"), os.path.join(reg.directory, "s1.json")
    os.unlink(fifo)
    os.mkfifo(fifo)  # nobody writes to it: opening it for reading would block forever
    target = str(tmp_path / "elsewhere.json")
    os.replace(link, target)
    os.symlink(target, link)
    scanned = {record.session_id: record for record in reg.scan(cache)}
    assert isinstance(scanned["s0"], Unreadable) and "regular file" in scanned["s0"].error
    assert isinstance(scanned["s1"], Unreadable) and "symbolic link" in scanned["s1"].error
    assert isinstance(scanned["s2"], Entry)
    assert list(scanned.values()) == fresh(reg)
    again = reg.scan(cache)  # refusals are not kept: asked again, and refused again
    assert again == fresh(reg)


def test_a_young_file_is_read_again(tmp_path: Path) -> None:
    """A file written moments before it was read could be rewritten within the same clock tick without any
    change to its size or times: such a file is read again at the next look, until it is old enough."""
    reg = registry_with(tmp_path, 2)
    cache = ReadCache(racy_seconds=3600.0)  # every file here is "young"
    reg.scan(cache)
    reg.scan(cache)
    assert cache.reads == 4 and len(cache) == 0


def test_random_changes_never_serve_a_stale_entry(tmp_path: Path) -> None:
    """Many rounds of what writers do (replace, edit in place to another size, remove, re-create, a file that
    is not JSON); after each, the cached look equals an uncached one, and it read only the changed files."""
    rng = random.Random(13)
    reg = registry_with(tmp_path, 30)
    cache = cache_now()
    reg.scan(cache)
    for _round in range(60):
        touched = set()
        for _change in range(rng.randint(1, 4)):
            name = f"s{rng.randrange(35)}"
            touched.add(name)
            path = os.path.join(reg.directory, name + ".json")
            kind = rng.choice(("replace", "edit", "remove", "garbage"))
            if kind == "replace":
                write_entry(str(tmp_path), name, os.getpid(), CWD, rng.choice(("worker", "orchestrator")))
                os.replace(os.path.join(str(tmp_path), name + ".json"), path)
            elif kind == "edit" and os.path.exists(path):
                with open(path, "a", encoding="utf-8") as handle:
                    handle.write(" " * rng.randint(1, 5))  # still valid JSON, another size
            elif kind == "remove" and os.path.exists(path):
                os.unlink(path)
            else:
                Path(path).write_text("{not json" + "x" * rng.randint(0, 9))
        reads = cache.reads
        assert reg.scan(cache) == fresh(reg)
        assert cache.reads - reads <= len(touched)


def test_activity_files_are_cached_and_changes_seen(tmp_path: Path) -> None:
    directory = str(tmp_path / "registry")
    for index in range(5):
        activity.write_activity(directory, f"s{index}", activity.WORKING, prompt=f"prompt {index}", now=1000.0)
    cache = cache_now()
    first = activity.read_all(directory, cache)
    assert first == activity.read_all(directory) and len(first) == 5 and cache.reads == 5
    assert activity.read_all(directory, cache) == first and cache.reads == 5
    activity.write_activity(directory, "s1", activity.WAITING, now=2000.0)
    activity.remove_activity(directory, "s2")
    fifo = os.path.join(activity.activity_dir(directory), "s3")
    os.unlink(fifo)
    os.mkfifo(fifo)
    found = activity.read_all(directory, cache)
    assert found == activity.read_all(directory)
    assert found["s1"].state == activity.WAITING and found["s1"].prompt == "prompt 1"
    assert "s2" not in found and "s3" not in found and found["s0"] == first["s0"]


def test_a_snapshot_with_caches_equals_one_without(tmp_path: Path) -> None:
    reg = registry_with(tmp_path, 6)
    activity.write_activity(reg.directory, "s0", activity.WAITING, prompt="hello", now=1000.0)
    entries, activities = cache_now(), cache_now()
    build_snapshot(reg, entry_cache=entries, activity_cache=activities)
    write_entry(reg.directory, "s4", os.getpid(), CWD, "orchestrator")
    activity.write_activity(reg.directory, "s0", activity.WORKING, now=2000.0)
    cached = build_snapshot(reg, entry_cache=entries, activity_cache=activities)
    assert cached == build_snapshot(reg)
    assert cached.session("s0").activity.state == activity.WORKING
    assert cached.session("s4").role == "orchestrator"
