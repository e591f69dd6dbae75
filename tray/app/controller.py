"""The tray's brain, with no GUI import: polls the registry, derives what the view shows, turns snapshot
differences into notifications, and carries out menu actions through the core.

The view is anything with `show(state, count, title, menu)`, `notify(title, body, buttons, on_click) -> bool` and
`stop()`; `pystray_view.PystrayView` is the real one, tests may drive the controller with their own.

Settings are read again while it runs: config.json's folder is watched like the registry, and when the file's
stat identity changed at a wake the controller applies it (`reload_config`): new sources start, removed ones
stop (their process over there ends), unchanged ones keep their connection; the notification settings, the
poll interval and the watch switch take effect at once. A file that cannot be used keeps the settings in use.

A notice's buttons (events.Offer) come back here as actions. They run on a thread of their own, maybe minutes after
the notice, so each one re-reads the registry first and refuses, in a notification, what no longer makes sense
(the successor died, someone else promoted meanwhile): never a traceback, never a forced demotion.

One module past 400 lines because it is one state machine: the snapshot it holds, the view it drives, the
watcher and the notices it times and the actions it runs all share one lock and one idea of "what is shown".
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, List, Optional, Protocol, Sequence, Tuple

from tray.app import menu as menu_model
from tray.app.config import Config, ConfigStore, state_dir
from tray.core import events, handover, projectfiles, tasklists, teams, traffic
from tray.core.events import Offer, OfferKind, short_id
from tray.core.fmt import one_line
from tray.core.fsutil import NotOurs
from tray.core.liveness import LivenessProbe
from tray.core.log import get_logger
from tray.core.projects import ProjectResolver, project_name
from tray.core.readcache import ReadCache
from tray.core.registry import Registry
from tray.core.snapshot import Session, Snapshot, SnapshotMemo, State, build_snapshot
from tray.platform.watch import ChangeWatcher
from tray.platform.watch_base import Changes

# Loaded on first use, not at rest (a tray with no other source, no action taken and nothing to say imports
# none of them; README.md "Speed"): the sources and their transport (when config.json names one), the core's
# actions (a menu action, a notice's button), the notifiers' Button (the first notice), focus (the first menu).
if TYPE_CHECKING:
    from tray.app import sources as remote_sources
    from tray.core.sources import Source
    from tray.platform.focus_base import FocusResult
    from tray.platform.notify import Button

#: With a watcher running, the registry is still rescanned this often: a safety net for what no event reports
#: (a folder on a network file system, a watch that could not be added, a process that could not be watched).
SAFETY_NET_SECONDS = 60.0
#: ... and this often while the watcher says it misses nothing (`ChangeWatcher.complete`): a tray at rest then
#: wakes for nothing but this, and runs the hooks check (HOOK_CHECK_SECONDS) in the same wake.
QUIET_SAFETY_NET_SECONDS = 600.0
#: Ages in the menu ("up 3m", "waiting 5m") are refreshed at most this often when nothing else changed:
#: rebuilding a native menu for a ticking clock costs milliseconds of CPU and closes an open submenu. A view
#: that can refresh them as its menu opens (`ages_on_open`) needs no clock for them at all.
AGE_REFRESH_SECONDS = 60.0
#: After a wake, wait this long for the rest of a burst of changes before looking.
COALESCE_SECONDS = 0.02
#: What the view is shown: the icon's state, its badge count, the tooltip and the menu (None: not built now).
Shown = Tuple[str, int, str, Optional[Tuple[menu_model.MenuItem, ...]]]

log = get_logger("tray")
#: Seconds between checks that the installed Claude Code hooks really run (each check starts a few processes);
#: a change of the settings file (`hooks_stamp`) is checked at the next wake instead.
HOOK_CHECK_SECONDS = 300.0


class View(Protocol):
    """`menu` None: the menu is not built now (a view that builds it as it opens, `menu_on_open`)."""

    def show(self, state: str, count: int, title: str, menu: Optional[Tuple[menu_model.MenuItem, ...]]) -> None: ...

    def notify(
        self, title: str, body: str, buttons: Tuple[Button, ...] = (), on_click: Optional[Callable[[], None]] = None
    ) -> bool: ...

    def stop(self) -> None: ...


class Autostart(Protocol):
    def enable(self, command: List[str]) -> None: ...

    def disable(self) -> None: ...

    def is_enabled(self) -> bool: ...


class RateLimiter:
    """At most `limit` notifications a minute; the rest are counted and said in one summary later."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = max(1, limit)
        self.clock = clock
        self.sent: Deque[float] = deque()

    def allow(self) -> bool:
        now = self.clock()
        while self.sent and now - self.sent[0] >= 60:
            self.sent.popleft()
        if len(self.sent) >= self.limit:
            return False
        self.sent.append(now)
        return True


class TrayController:
    def __init__(
        self,
        registry: Registry,
        view: Optional[View] = None,
        config_store: Optional[ConfigStore] = None,
        autostart: Optional[Autostart] = None,
        launch_command: Optional[List[str]] = None,
        open_path: Optional[Callable[[str], None]] = None,
        find_file: Optional[Callable[[str, str], Optional[str]]] = None,
        log_path: str = "",
        hooks_check: Optional[Callable[[], List[str]]] = None,
        hooks_repair: Optional[Callable[[], None]] = None,
        hooks_stamp: Optional[Callable[[], object]] = None,
        focus: Optional[Callable[[int], FocusResult]] = None,
        focus_problem: Optional[str] = None,
        change_watcher: Optional[Callable[[str], Optional[ChangeWatcher]]] = None,
        spawn_worker: Optional[Callable[[str], str]] = None,
        source_runner: Optional[remote_sources.Runner] = None,
    ) -> None:
        self.registry = registry
        self.view = view
        self.config_store = config_store or ConfigStore()
        self._config_stamp = self.config_store.stamp()  # config.json as last read: read again when it differs
        self.config: Config = self.config_store.load()
        if self.config_store.problem:
            log.warning(self.config_store.problem)
        self.autostart = autostart
        self.launch_command = launch_command or []
        self.open_path = open_path or _default_open
        self.find_file = find_file or _default_find_file
        self.project_menus = menu_model.ProjectMenus()  # the last menu's project submenus, reused when unchanged
        self.log_path = log_path
        self.hooks_check = hooks_check
        self.hooks_repair = hooks_repair
        self.hooks_stamp = hooks_stamp  # what changes when the hooks' settings file does (its stat identity)
        self._hooks_stamped: object = None
        self.hook_problems: Tuple[str, ...] = ()
        self._hooks_checked_at: Optional[float] = None
        self.focus = focus or _default_focus
        self.spawn_worker = spawn_worker or _default_spawn_worker
        self._focus_problem = focus_problem  # None: asked when the menu is first built
        self.resolver = ProjectResolver()
        self.entry_cache, self.activity_cache = ReadCache(), ReadCache()  # what a look need not read again
        self.snapshot: Optional[Snapshot] = None
        self._told: Optional[Snapshot] = None  # what the last notices were computed from (with remembered sources)
        self.error = ""
        self.shown: Optional[Shown] = None
        self.limiter = RateLimiter(self.config.notify_per_minute)
        self.watcher = events.ActivityWatcher(self.config.waiting_notify_after)
        self.claim_watcher = events.ClaimWatcher()
        #: TRAFFIC.md, HANDOVER.md and task lists of each live project (`projectfiles.update`).
        self.files: Dict[str, projectfiles.ProjectFiles] = {}
        self.teams: Tuple[teams.Team, ...] = ()  # agent teams under the live sessions' config folders
        #: What a look read, kept for the next one while the change watcher says which files changed: each live
        #: project's files with what they were gathered for, the config folders the teams were read from, the
        #: processes and folders last given to the watcher.
        self._gathered: projectfiles.Gathered = {}
        self._team_configs: Tuple[str, ...] = ()
        self._configs: Tuple[Tuple[Tuple[int, str], ...], Tuple[str, ...]] = ((), ())  # live processes -> configs
        self.snapshot_memo = SnapshotMemo()
        self._watch_asked: Tuple[Tuple[int, ...], Tuple[str, ...]] = ((), ())
        self._looked = False  # a look succeeded: the next may read only what changed
        self._full_at = 0.0  # time.monotonic() of the last look that read everything
        self.looks = self.full_looks = 0  # looks taken, and those that read everything (for tests and the bench)
        self.held_back = 0
        self.stopping = threading.Event()
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._make_change_watcher = change_watcher or _default_change_watcher
        self.change_watcher: Optional[ChangeWatcher] = None
        self.watching = False  # events wake the tray; the timed poll is only a safety net
        self._ages_at: Optional[float] = None
        self.ages_on_open = False  # the view refreshes the ages as its menu opens (`refresh_ages`): no clock
        #: The view builds the menu as it opens and drops it once it closed (`refresh_ages`, `menu_closed`):
        #: while it is closed, a change shows the icon, badge and tooltip and builds no menu model at all.
        self.menu_on_open = False
        self.menu_open = False  # between `refresh_ages` and `menu_closed` of such a view
        self.settled: Optional[Callable[[], None]] = None  # called once, after the first look and hooks check
        #: Other sources (SSH hosts, WSL distributions, containers), each read on its own thread. None: the
        #: default runner (`tray.app.sources.default_runner`), taken when a source is first configured.
        self.source_runner = source_runner
        #: Replaced as a whole (never changed in place) when config.json's sources change: read it once per use.
        self.pollers: Dict[str, remote_sources.SourcePoller] = self._first_pollers()

    @property
    def focus_problem(self) -> str:
        """Why "Focus terminal" cannot work on this desktop at all, or "" (asked once, when first needed)."""
        if self._focus_problem is None:
            self._focus_problem = _default_focus_problem()
        return self._focus_problem

    @focus_problem.setter
    def focus_problem(self, value: str) -> None:
        self._focus_problem = value

    def _first_pollers(self) -> Dict[str, remote_sources.SourcePoller]:
        """A poller for each source config.json names. With none, the sources' modules are not imported."""
        if not self.config.sources:
            return {}
        from tray.app import sources as remote_sources

        configured, runner = self._configured_sources(self.config.sources)
        return remote_sources.pollers_for(configured, self.config.source_poll_interval, self.wake, runner)

    def _configured_sources(self, specs: object) -> Tuple[List[Source], remote_sources.Runner]:
        """The sources config.json names (a line in the log for each one skipped) and the runner their
        transport uses: the sources' modules are loaded here, when a source is first configured."""
        from tray.app import sources as remote_sources
        from tray.core.sources import from_config

        configured, problems = from_config(specs)
        for problem in problems:
            log.warning("config.json: %s", problem)
        if self.source_runner is None:
            self.source_runner = remote_sources.default_runner
        return configured, self.source_runner

    # --- polling ----------------------------------------------------------------------------------------

    def poll_once(self) -> List[Any]:
        """Take a snapshot, update the view if anything visible changed, notify about new events."""
        with self._lock:
            self.looks += 1
            changes = self._take_changes()  # before anything is read: a change made meanwhile is in the next log
            self._looked = False  # until this look is through: one that fails halfway is followed by a full one
            try:
                known = self.change_watcher.known_alive() if self.watching and self.change_watcher else None
                snapshot = build_snapshot(self.registry, self.resolver, LivenessProbe(known=known),
                                          self.entry_cache, self.activity_cache, changes, self.snapshot_memo)
                self.error = ""
                # The other sources as their pollers last left them: never waited for here. The menu shows those
                # that answer; notices compare what each source said last, so an outage is not a change.
                merged = told = snapshot
                if self.pollers:
                    from tray.core.remote import merge

                    states = [p.state for p in self.pollers.values()]
                    merged = merge(snapshot, [state.snapshot for state in states if state.snapshot is not None])
                    remembered = [p.last_good for p in self.pollers.values()]
                    told = merge(snapshot, [known for known in remembered if known is not None])
            except OSError as error:
                self._looked = False  # the next look reads everything again
                message = f"cannot read the registry {self.registry.directory}: {error.strerror or error}"
                if message != self.error:
                    log.warning(message)
                self.error = message
                self.refresh_view()
                return []
            found: List[Any] = events.diff(self._told, told)
            self._told = told
            found += self.watcher.check(merged, time.time())
            # Files, task lists, teams and process watches are this machine's: another source's paths and PIDs
            # only mean something there.
            self._gathered = projectfiles.update(snapshot, self._gathered, changes)
            files = {key: gathered[1] for key, gathered in self._gathered.items()}
            self._keep_traffic_current(snapshot, files)
            found += self.claim_watcher.check(projectfiles.clashes(snapshot, files))
            live = [s for v in snapshot.projects for s in v.live]
            processes = tuple((s.entry.pid, s.session_id) for s in live)
            if processes != self._configs[0]:  # the config folders of the live sessions, asked when they change
                self._configs = (processes, tuple(dict.fromkeys(
                    tasklists.session_place(sid, pid).config for pid, sid in processes)))
            configs = self._configs[1]
            if changes is None or configs != self._team_configs or _touches(changes, team_folders(configs)):
                self.teams = tuple(teams.read_all(configs))
                self._team_configs = configs
            self.snapshot, self.files = merged, files
            self._looked = True
        self.announce(found)  # before the menu: a death is said without waiting for a large menu to build
        self.refresh_view()
        if self.watching and self.change_watcher is not None:
            folders = client_status_folders(live) + shown_file_folders(snapshot, self.files, self.teams)
            folders += [f for gathered in self._gathered.values() for f in gathered[2]] + team_folders(configs)
            folders.append(self.config_store.directory)  # config.json: `orchestray sources add` while running
            asked = (tuple(sorted(s.entry.pid for s in live)), tuple(sorted(set(folders))))
            if asked != self._watch_asked or changes is None:
                self._watch_asked = asked
                self.change_watcher.watch_pids(asked[0], asked[1])
        return found

    def _take_changes(self) -> Optional[Changes]:
        """What the change watcher logged since the last look (which files to check), or None: read everything.

        Everything is read at the first look, after a look that failed, while the watcher may miss something
        (`complete` False: polling, a network file system, a process not watched), when the watcher cannot tell
        (dropped events, a folder watched only from now on), and at least once per safety-net interval."""
        watcher = self.change_watcher if self.watching else None
        take = getattr(watcher, "take_changes", None)
        changes: Optional[Changes] = take() if take is not None else None  # taken (and cleared) in every case
        now = time.monotonic()
        complete = bool(getattr(watcher, "complete", False))
        interval = QUIET_SAFETY_NET_SECONDS if complete else SAFETY_NET_SECONDS
        if changes is None or not complete or not self._looked or now - self._full_at >= interval - 1.0:
            self._full_at = now
            self.full_looks += 1
            return None
        return changes

    def _keep_traffic_current(self, snapshot: Snapshot, files: Dict[str, projectfiles.ProjectFiles]) -> None:
        """Rewrite the Active Sessions table of the projects where the user turned that on (nothing else)."""
        stamp = time.strftime("%Y-%m-%d %H:%M")
        for view in snapshot.projects:
            if view.key not in self.config.keep_traffic_current or not view.live:
                continue
            root = view.project.root
            live = [traffic.LiveRow(s.session_id, s.role, traffic.git_branch(s.entry.cwd, root)) for s in view.live]
            try:
                if traffic.keep_active_sessions(root, live, stamp):
                    log.info("%s: TRAFFIC.md's Active Sessions brought up to date", view.name)
                    files[view.key] = projectfiles.gather_project(view)
            except OSError as error:
                log.warning("%s: cannot update TRAFFIC.md: %s", view.name, error)

    def refresh_view(self) -> None:
        """Show the snapshot if anything visible changed. Ages alone count as a change at most once every
        AGE_REFRESH_SECONDS; when something else changed, it is shown with the ages of that last refresh (at
        most a minute behind, in whole minutes): one menu built per change, not a second one for the ages.
        With a view that builds its menu as it opens (`menu_on_open`), no menu is built while it is closed:
        only the icon, its badge and the tooltip are shown."""
        with self._lock:
            now = time.time()
            if self._ages_at is None or now - self._ages_at >= AGE_REFRESH_SECONDS:
                self._ages_at = now
            shown = self._what_to_show(self._ages_at, with_menu=self.menu_open or not self.menu_on_open)
            if shown == self.shown or self.view is None:
                return
            self.shown = shown
        self.view.show(*shown)

    def _what_to_show(self, now: float, with_menu: bool = True) -> Shown:
        """The icon's state, its badge, the tooltip and (`with_menu`) the menu with the ages of `now`."""
        menu = None
        if with_menu:
            settings = menu_model.MenuSettings(
                notifications=self.config.notifications,
                autostart=self.autostart.is_enabled() if self.autostart is not None else None,
                log_available=bool(self.log_path),
                hook_problems=self.hook_problems,
                focus_problem=self.focus_problem,
                traffic_sync=tuple(self.config.keep_traffic_current),
                sources=tuple(line for line in (p.state.line for p in self.pollers.values()) if line),
            )
            menu = menu_model.build_menu(self.snapshot, settings, self.find_file, now=now, error=self.error,
                                         files=self.files, teams=self.teams, memo=self.project_menus)
        state = State.STALE if self.error else (self.snapshot.state if self.snapshot is not None else State.NONE)
        return state, menu_model.waiting_count(self.snapshot), menu_model.tooltip(self.snapshot, self.error), menu

    def announce(self, found: List[Any]) -> None:
        """Notify about `found`, at most `notify_per_minute` a minute; called after every poll, even one that
        found nothing, so that what was held back is summed up as soon as the minute allows."""
        for event in found:
            # Never the body: a session's event quotes the user's last prompt, and no prompt goes into a log.
            log.info("event %s: %s (session %s)", event.kind, event.title, event.session_id)
        if not self.config.notifications or self.view is None:
            return
        if found:
            from tray.platform.notify import Button
        for event in found:
            if self.limiter.allow():
                source = self._source_of(event)
                # Another machine's terminal cannot be raised from here: no Focus button, no Focus click.
                offers = [o for o in event.offers if not (source and o.kind == OfferKind.FOCUS)]
                buttons = tuple(Button(offer.label, self._offer_runner(offer, source)) for offer in offers)
                # A Button, so that the click has its words where a server names it (dunst's context menu).
                click = (Button(event.click.label, self._offer_runner(event.click, source))
                         if event.click is not None and not (source and event.click.kind == OfferKind.FOCUS)
                         else None)
                if not self.view.notify(event.title, event.body, buttons=buttons, on_click=click):
                    log.warning("notification not delivered: %s", event.title)
            else:
                self.held_back += 1
        if self.held_back and self.limiter.allow():
            count, self.held_back = self.held_back, 0
            self.view.notify("Orchestray", f"{count} more registry change(s); open the tray menu for details.")

    def start(self) -> None:
        """Poll in a daemon thread until `stop()`; a change watcher, where one runs, wakes it at once."""
        self._start_change_watcher()
        self._thread = threading.Thread(target=self._loop, name="orchestray-poll", daemon=True)
        self._thread.start()
        for poller in self.pollers.values():
            poller.start()

    def _start_change_watcher(self) -> None:
        if not self.config.watch:
            log.info("change watching is off in config.json: polling every %.1fs", self.config.poll_interval)
            return
        watcher = self._make_change_watcher(self.registry.directory)
        if watcher is None:
            log.info("no change watcher on this system: polling every %.1fs", self.config.poll_interval)
            return
        if watcher.start(self._changed):
            self.change_watcher, self.watching = watcher, True
            log.info("watching the registry with %s; full rescan every %.0fs (%.0fs while the watch misses "
                     "nothing)", watcher.name, SAFETY_NET_SECONDS, QUIET_SAFETY_NET_SECONDS)

    # --- settings changed while running --------------------------------------------------------------------

    def reload_config(self) -> bool:
        """Apply config.json again if it changed since it was last read (its stat identity); True when it did.

        A file that cannot be used (half written by an editor, not JSON) leaves the settings in use as they are,
        said in one log line per change of the file; nothing here writes the file."""
        stamp = self.config_store.stamp()
        if stamp == self._config_stamp:
            return False
        self._config_stamp = stamp
        new = self.config_store.load()
        if self.config_store.broken:
            log.warning("settings file %s %s; keeping the settings in use", self.config_store.path,
                        self.config_store.unusable)
            return False
        if self.config_store.problem:
            log.warning(self.config_store.problem)
        old = self.config
        changed = [f.name for f in fields(Config) if getattr(old, f.name) != getattr(new, f.name)]
        if not changed:
            return False
        log.info("settings file changed: %s", ", ".join(changed))
        with self._lock:
            self.config = new
            self.limiter.limit = max(1, new.notify_per_minute)
            self.watcher.delay = new.waiting_notify_after
        self._apply_sources(old, new)
        if new.watch != old.watch and self._thread is not None:
            if new.watch:
                self._start_change_watcher()
            elif self.change_watcher is not None:
                self.watching = False
                self.change_watcher.close()
                self.change_watcher = None
                log.info("change watching turned off in config.json: polling every %.1fs", new.poll_interval)
        self.refresh_view()
        self.wake()
        return True

    def _apply_sources(self, old: Config, new: Config) -> None:
        """Start the sources added, stop and forget those removed (or changed), keep the others connected."""
        if not new.sources and not self.pollers:
            return  # none before, none now: the sources' modules stay unloaded
        from tray.app import sources as remote_sources

        configured, runner = self._configured_sources(new.sources)
        restart_all = new.source_poll_interval != old.source_poll_interval  # a stream's heartbeat is its interval
        with self._lock:
            current = self.pollers
            kept = {source.spec: current[source.spec] for source in configured
                    if source.spec in current and current[source.spec].source == source and not restart_all}
            fresh = remote_sources.pollers_for([s for s in configured if s.spec not in kept],
                                               new.source_poll_interval, self.wake, runner)
            self.pollers = {source.spec: kept.get(source.spec) or fresh[source.spec] for source in configured}
        for spec, poller in current.items():
            if self.pollers.get(spec) is not poller:
                poller.stop()  # its thread ends, and with it the process it follows over there
                log.info("source %s %s", spec, "changed: connecting again" if spec in self.pollers else "removed")
        for spec, poller in fresh.items():
            if spec not in current:
                log.info("source %s added", spec)
            if self._thread is not None and not self.stopping.is_set():
                poller.start()

    def _save_config(self) -> None:
        """Save the settings the menu changed, remembering the file as ours (its change is no news)."""
        self.config_store.save(self.config)
        self._config_stamp = self.config_store.stamp()

    def _changed(self, reason: str) -> None:
        """Called on the watcher's thread: something may have changed; the poll thread looks at once."""
        if reason == "watch-failed":
            self.watching = False  # back to the timed poll
        self._wake.set()

    def check_hooks(self, force: bool = False) -> Tuple[str, ...]:
        """Run the hooks check (at most every HOOK_CHECK_SECONDS unless forced or the settings file changed);
        warn once when it turns bad."""
        if self.hooks_check is None:
            return ()
        now = time.monotonic()
        stamp = self.hooks_stamp() if self.hooks_stamp is not None else None
        if (not force and self._hooks_checked_at is not None and now - self._hooks_checked_at < HOOK_CHECK_SECONDS
                and stamp == self._hooks_stamped):
            return self.hook_problems
        self._hooks_checked_at, self._hooks_stamped = now, stamp
        problems = tuple(self.hooks_check())
        with self._lock:
            newly_broken = problems and not self.hook_problems
            self.hook_problems = problems
            self.refresh_view()
        for line in problems:
            log.warning("%s", line)
        if newly_broken and self.config.notifications and self.view is not None:
            self.view.notify("Orchestray: Claude Code hooks broken", problems[0] + " (or use the tray menu)")
        return problems

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self.reload_config()  # one stat: the settings file changed since the last look?
                self.poll_once()
                self.check_hooks()  # after the poll: the first menu is not held up by a few hook processes
                settled, self.settled = self.settled, None
                if settled is not None:
                    settled()
            except Exception:  # noqa: BLE001 - the tray keeps running; the log has the detail
                log.exception("poll failed")
            woke = self._wake.wait(self.sleep_for())
            self._wake.clear()
            if woke and self.watching:
                # A writer's burst (a temp file, its rename, the activity file) becomes one look, not three.
                self.stopping.wait(COALESCE_SECONDS)

    def sleep_for(self) -> float:
        """How long the poll thread may sleep: the poll interval without a watcher; with one, until the next
        change only the clock makes (an age to refresh unless the view does that as its menu opens, a wait long
        enough to notify), at most a minute, or ten while the watcher misses nothing."""
        if not self.watching:
            return self.config.poll_interval
        now = time.time()
        complete = bool(getattr(self.change_watcher, "complete", False))
        sleep = QUIET_SAFETY_NET_SECONDS if complete else SAFETY_NET_SECONDS
        if self._ages_at is not None and not self.ages_on_open:
            sleep = min(sleep, max(0.0, self._ages_at + AGE_REFRESH_SECONDS - now))
        due = self.watcher.next_due(self.snapshot, now)
        if due is not None:
            sleep = min(sleep, due + 0.05)
        return max(sleep, 0.05)

    def wake(self) -> None:
        self._wake.set()

    def refresh_ages(self) -> None:
        """The menu is about to open (called on the GUI's thread): show it with the ages of now. Nothing is
        read; only the labels are built again, and the view is told only if one of them changed. For a view
        that builds its menu as it opens (`menu_on_open`), this is where the menu is built, and it is kept up
        to date by every change until `menu_closed`."""
        with self._lock:
            self.menu_open = True
            self._ages_at = None
            self.refresh_view()

    def menu_closed(self) -> None:
        """The view's menu closed and is being dropped (called on the GUI's thread, after the handler of an
        item picked in it ran): build no menu until it opens again, and let the model and the project submenus
        kept for reuse go."""
        with self._lock:
            self.menu_open = False
            if self.menu_on_open:
                self.project_menus = menu_model.ProjectMenus()
                if self.shown is not None:
                    self.shown = (*self.shown[:3], None)  # the view holds no menu now: the next opening builds one

    def stop(self) -> None:
        self.stopping.set()
        self._wake.set()
        for poller in self.pollers.values():
            poller.stop()
        if self.change_watcher is not None:
            self.change_watcher.close()
        if self.view is not None:
            self.view.stop()

    # --- actions ----------------------------------------------------------------------------------------

    def _offer_runner(self, offer: Offer, source: str = "") -> Callable[[], None]:
        return lambda: self.perform_offer(offer, source)

    def _source_of(self, event: Any) -> str:
        """The source (its spec) a notice is about: "" for this machine."""
        key = getattr(event, "project_key", "")
        snapshot = self.snapshot
        if snapshot is not None:
            view = snapshot.project(key) if key else None
            if view is not None:
                return view.project.source
            session = snapshot.session(getattr(event, "session_id", "") or "")
            if session is not None:
                return session.project.source
        return ""

    def perform_offer(self, offer: Offer, source: str = "") -> None:
        """A notification's button or body was clicked: the same as the menu item, never forced."""
        log.info("notification action %s %s%s", offer.kind, short_id(offer.target), f" on {source}" if source else "")
        if offer.kind == OfferKind.PROMOTE:
            self.perform(menu_model.Action(menu_model.ActionKind.PROMOTE, offer.target, origin=menu_model.FROM_NOTICE,
                                           source=source))
        elif offer.kind == OfferKind.FOCUS:
            self.perform(menu_model.Action(menu_model.ActionKind.FOCUS, offer.target, origin=menu_model.FROM_NOTICE,
                                           source=source))
        elif offer.kind == OfferKind.OPEN_HANDOVER:
            self.perform(menu_model.Action(menu_model.ActionKind.OPEN_HANDOVER, offer.target,
                                           origin=menu_model.FROM_NOTICE, source=source))
        else:
            log.warning("unknown notification action %s", offer.kind)

    def _say_refused(self, title: str, reason: str) -> None:
        if self.view is not None and not self.view.notify(title, reason):
            log.warning("refusal not shown: %s", reason)

    def _fresh_session(self, session_id: str) -> Tuple[Session, Snapshot]:
        """The session as the registry has it now (and that snapshot); refused when its process is gone."""
        from tray.core import actions

        snapshot = build_snapshot(self.registry, self.resolver, LivenessProbe())
        found = snapshot.session(session_id)
        if found is None:
            raise actions.ActionRefused(f"session {short_id(session_id)} is no longer registered")
        if not found.alive:
            raise actions.ActionRefused(
                f"{found.project.name}: session {short_id(session_id)} is no longer running (pid {found.entry.pid})"
            )
        return found, snapshot

    def _promote_from_notice(self, session_id: str) -> None:
        """Promote as the notice proposed, if that still holds: the session lives and nobody took over.

        `actions.promote` checks again inside the registry lock, without force, so a takeover that lands
        between this check and the write is refused there too."""
        from tray.core import actions

        session, snapshot = self._fresh_session(session_id)
        view = snapshot.project(session.project.key)
        holder = view.orchestrator if view is not None else None
        if holder is not None and holder.session_id != session_id:
            raise actions.ActionRefused(
                f"{session.project.name}: {short_id(holder.session_id)} is the orchestrator now; nothing changed"
            )
        result = actions.promote(self.registry, session_id, force=False)
        if not result.already:
            log.info("promoted %s from a notification", short_id(session_id))

    def _focus(self, session_id: str) -> None:
        from tray.core import actions

        session, _snapshot = self._fresh_session(session_id)
        result = self.focus(session.entry.pid)
        if result.ok:
            log.info("focused %s: %s", short_id(session_id), result.message)
            return
        raise actions.ActionRefused(
            f"{session.project.name}: cannot focus {short_id(session_id)}: {result.message}"
        )

    def _open_handover(self, project_key: str) -> None:
        from tray.core import actions

        snapshot = build_snapshot(self.registry, self.resolver, LivenessProbe())
        view = snapshot.project(project_key)
        if view is None:
            raise actions.ActionRefused("that project has no sessions any more")
        path = self.find_file(view.project.root, menu_model.HANDOVER)
        if path is None:
            raise actions.ActionRefused(f"{view.name}: there is no {menu_model.HANDOVER} (any more)")
        self.open_path(path)

    def _create_from_template(self, kind: str, root: str) -> None:
        """Create TRAFFIC.md or HANDOVER.md from the protocol's template, then open it; never over a file."""
        from tray.core import actions

        name = project_name(root)
        try:
            create = traffic.create if kind == menu_model.ActionKind.CREATE_TRAFFIC else handover.create
            path = create(root, name)
        except traffic.AlreadyThere as there:
            raise actions.ActionRefused(
                f"{name}: {os.path.basename(str(there))} exists already; left as it is") from None
        except OSError as error:
            raise actions.ActionRefused(f"{name}: cannot create it: {error.strerror or error}") from error
        log.info("created %s", path)
        self.open_path(path)

    def perform(self, action: menu_model.Action) -> None:
        """Carry out a menu action; failures are logged and said in a notification, never raised."""
        from tray.core import actions

        log.info("%s action %s %s%s", action.origin, action.kind, action.argument, " (force)" if action.force else "")
        try:
            self._perform(action)
        except (actions.ActionRefused, actions.BadInput, NotOurs) as refused:  # NotOurs: a link at our lock
            log.warning("%s refused: %s", action.kind, refused)
            self._say_refused(NOT_DONE_TITLES.get(action.kind, "Orchestray: not done"), str(refused))
        except Exception as error:  # noqa: BLE001
            log.exception("%s failed", action.kind)
            if self.view is not None:
                self.view.notify("Orchestray: action failed", f"{action.kind}: {error}")
        if action.kind != menu_model.ActionKind.QUIT:
            self.poll_once()

    def _perform_remote(self, action: menu_model.Action) -> None:
        """An action on another source's session or project: its own Orchestray does it, over the transport."""
        from tray.app import sources as remote_sources
        from tray.core import actions

        poller = self.pollers.get(action.source)
        if poller is None:
            raise actions.ActionRefused(f"{action.source} is no longer one of the sources")
        source, kind, run = poller.source, action.kind, self.source_runner or remote_sources.default_runner
        try:
            if kind == menu_model.ActionKind.PROMOTE:
                # From a notice: never forced, so a takeover meanwhile is refused over there, inside its lock.
                force = action.force and action.origin != menu_model.FROM_NOTICE
                log.info("%s: %s", source.spec, one_line(remote_sources.promote(source, action.argument, force, run)))
            elif kind == menu_model.ActionKind.VACATE:
                log.info("%s: %s", source.spec, one_line(remote_sources.vacate(source, action.argument, run)))
            elif kind == menu_model.ActionKind.CLEAN:
                log.info("%s: %s", source.spec, one_line(remote_sources.clean(source, run)))
            elif kind == menu_model.ActionKind.OPEN_HANDOVER:
                view = self.snapshot.project(action.argument) if self.snapshot is not None else None
                if view is None:
                    raise actions.ActionRefused("that project has no sessions any more")
                copies = os.path.join(state_dir(), "remote")
                self.open_path(remote_sources.handover_to_open(source, view.project.root, copies, run))
            elif kind == menu_model.ActionKind.FOCUS:
                raise actions.ActionRefused(f"{source.name}: that session runs there; its terminal is not on "
                                            "this machine")
            else:
                raise actions.ActionRefused(f"{kind} is not done on {source.name}")
        finally:
            if kind != menu_model.ActionKind.OPEN_HANDOVER:
                poller.poll_now()  # show the change with the poll that follows, not a poll interval later

    def _perform(self, action: menu_model.Action) -> None:
        from tray.core import actions

        kind = action.kind
        if action.source:
            self._perform_remote(action)
            return
        if kind == menu_model.ActionKind.PROMOTE and action.origin == menu_model.FROM_NOTICE:
            self._promote_from_notice(action.argument)
        elif kind == menu_model.ActionKind.PROMOTE:
            actions.promote(self.registry, action.argument, force=action.force)
        elif kind == menu_model.ActionKind.FOCUS:
            self._focus(action.argument)
        elif kind == menu_model.ActionKind.OPEN_HANDOVER:
            self._open_handover(action.argument)
        elif kind in (menu_model.ActionKind.CREATE_TRAFFIC, menu_model.ActionKind.CREATE_HANDOVER):
            self._create_from_template(kind, action.argument)
        elif kind == menu_model.ActionKind.TOGGLE_TRAFFIC_SYNC:
            self.reload_config()  # a change made meanwhile by `orchestray sources add` is kept, not saved over
            keys = self.config.keep_traffic_current
            if action.argument in keys:
                keys.remove(action.argument)
            else:
                keys.append(action.argument)
            self._save_config()
        elif kind == menu_model.ActionKind.NEW_WORKER:
            log.info("new worker in %s: %s", action.argument, self.spawn_worker(action.argument))
        elif kind == menu_model.ActionKind.CLEAN:
            result = actions.clean(self.registry)
            log.info("cleaned %d stale entr(ies)", len(result.removed))
        elif kind == menu_model.ActionKind.OPEN:
            self.open_path(action.argument)
        elif kind == menu_model.ActionKind.OPEN_LOG:
            self.open_path(self.log_path)
        elif kind == menu_model.ActionKind.REFRESH:
            self.wake()
            for poller in self.pollers.values():
                poller.poke()
        elif kind == menu_model.ActionKind.TOGGLE_NOTIFICATIONS:
            self.reload_config()
            self.config.notifications = not self.config.notifications
            self._save_config()
            self.refresh_view()
        elif kind == menu_model.ActionKind.TOGGLE_AUTOSTART and self.autostart is not None:
            if self.autostart.is_enabled():
                self.autostart.disable()
            else:
                self.autostart.enable(self.launch_command)
            self.refresh_view()
        elif kind == menu_model.ActionKind.REPAIR_HOOKS and self.hooks_repair is not None:
            self.hooks_repair()
            if self.check_hooks(force=True):
                raise actions.ActionRefused("the Claude Code hooks still do not run: " + self.hook_problems[0])
            if self.view is not None:
                self.view.notify("Orchestray", "Claude Code hooks repaired")
        elif kind == menu_model.ActionKind.QUIT:
            self.stop()


NOT_DONE_TITLES = {
    menu_model.ActionKind.PROMOTE: "Orchestray: not promoted",
    menu_model.ActionKind.FOCUS: "Orchestray: cannot focus",
    menu_model.ActionKind.OPEN_HANDOVER: "Orchestray: cannot open HANDOVER.md",
    menu_model.ActionKind.CREATE_TRAFFIC: "Orchestray: TRAFFIC.md not created",
    menu_model.ActionKind.CREATE_HANDOVER: "Orchestray: HANDOVER.md not created",
    menu_model.ActionKind.NEW_WORKER: "Orchestray: no new worker",
    menu_model.ActionKind.VACATE: "Orchestray: not handed over",
    menu_model.ActionKind.CLEAN: "Orchestray: not cleaned",
}


def _default_focus(pid: int) -> FocusResult:
    from tray.platform.focus import focus_pid

    return focus_pid(pid)


def _default_spawn_worker(root: str) -> str:
    """Open the user's terminal running `claude --worktree` in `root`; which terminal it was."""
    from tray.core import actions
    from tray.platform.spawn import SpawnRefused, spawn

    try:
        return spawn(root).terminal
    except SpawnRefused as refused:
        raise actions.ActionRefused(str(refused)) from None


def _default_focus_problem() -> str:
    from tray.platform.focus import unavailable_reason

    return unavailable_reason()


def _default_open(path: str) -> None:
    from tray.platform.opener import open_path

    open_path(path)


def _default_find_file(root: str, name: str) -> Optional[str]:
    from tray.platform.opener import project_file

    return project_file(root, name)


def _default_change_watcher(directory: str) -> Optional[ChangeWatcher]:
    from tray.platform.watch import for_platform, raise_fd_limit

    raise_fd_limit()
    return for_platform(directory)


def team_folders(configs: Sequence[str]) -> List[str]:
    """The `teams` folder of each config folder: a team created, changed or removed there is worth a wake."""
    return [os.path.join(config, "teams") for config in configs]


def _touches(changes: Changes, folders: Sequence[str]) -> bool:
    """Did the watcher log a change in one of `folders` or below it (a team's own folder)?"""
    return any(changed == folder or changed.startswith(folder + os.sep) for changed in changes for folder in folders)


def client_status_folders(sessions: List[Session]) -> List[str]:
    """Claude Code's `sessions/` folders of these sessions: it rewrites a session's file there when a turn
    ends or resumes without a hook (Esc, an approved permission), so a change there is worth a wake."""
    from tray.core.turns import claude_config_of

    folders = set()
    for session in sessions:
        transcript = session.activity.transcript if session.activity is not None else ""
        config = claude_config_of(transcript) if transcript else ""
        if config:
            folders.add(os.path.join(config, "sessions"))
    return sorted(folders)


def shown_file_folders(snapshot: Snapshot, files: Dict[str, projectfiles.ProjectFiles],
                       found_teams: Sequence[teams.Team]) -> List[str]:
    """The folders of the other files the menu shows: each live project's root (TRAFFIC.md, HANDOVER.md), its
    task lists' folders, and the agent teams' folders, so an edit there shows at once, not at the next rescan.
    A root is not watched below itself: edits in a project's sub-folders wake nothing."""
    folders = {view.project.root for view in snapshot.projects if view.live}
    for project in files.values():
        folders.update(task_list.folder for task_list in project.task_lists)
    for team in found_teams:
        team_folder = os.path.dirname(team.path)
        folders.update((team_folder, os.path.dirname(team_folder)))
    return sorted(folder for folder in folders if folder)
