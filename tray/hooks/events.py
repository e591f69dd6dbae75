"""The one table of the Claude Code hook events Orchestray handles.

Read by the handlers' fast path (``tray/hooks/handlers.py``: which ``hook EVENT`` words are ours), by the
installer (which events get a hook in ``settings.json``), by the command line's ``hook`` choices, and checked
against the README's table by a test. To handle a new event, add one row here and its handler.

This module imports nothing at all: the prompt hook runs on every prompt and counts milliseconds.

``Stop`` fires after every answer of the model (not at the end of a session), ``StopFailure`` instead of it
when the turn ended in an API error, and ``Notification`` when Claude Code waits for the user: they only mark
activity and must never deregister. Only ``SessionEnd`` does (and not for ``/clear``: see the handlers).
"""

#: Claude Code event name -> the subcommand of ``orchestray hook`` that handles it, in install order.
HOOK_EVENTS = {
    "SessionStart": "session-start",
    "UserPromptSubmit": "prompt",
    "SessionEnd": "session-end",
    "Stop": "stop",
    "StopFailure": "stop-failure",
    "Notification": "notification",
}

#: The first Claude Code version that knows an event, for the events newer than the rest. An older Claude Code
#: treats a settings.json that names an event it does not know as an error: it skips the WHOLE file (every hook
#: and setting in it) and asks at every start whether to exit (observed: 2.1.77 with `StopFailure`; 2.1.78 is the
#: first that has it). Such an event is not installed where `claude --version` names an older version. A Claude
#: Code whose version cannot be asked (not on PATH) gets every event: current versions all know them.
SINCE = {"StopFailure": (2, 1, 78)}


def events_for(version: "tuple[int, int, int] | None") -> "list[str]":
    """The events to install for Claude Code `version` ((major, minor, patch); None when it is unknown: all)."""
    return [event for event in HOOK_EVENTS if event not in SINCE or version is None or version >= SINCE[event]]


#: The subcommands, in the table's order.
SUBCOMMANDS = tuple(HOOK_EVENTS.values())

#: Subcommand -> Claude Code event name (the ``hookEventName`` of a hook's JSON answer).
EVENT_OF = {subcommand: event for event, subcommand in HOOK_EVENTS.items()}

#: Set by `orchestray hooks status` (and the tray's hooks check) when it runs an installed hook command to see that
#: it works: the hook then only loads what its handlers need and answers with one line of JSON naming the value,
#: touching nothing. Here, not in the handlers, so that the check does not load the handlers into the tray.
PROBE_ENV = "ORCHESTRAY_HOOK_PROBE"
