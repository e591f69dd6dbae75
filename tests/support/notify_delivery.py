"""One notification sent from a fresh interpreter, for the tests of the notifier chain, and texts built to break it.

Why a fresh interpreter: plyer (dbus-python) caches its session-bus connection per process, so it must never
connect from the pytest process itself (a test with another bus, or none, would get the cached one).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from helpers import REPO

#: A title and a body that carry everything a backend could misread: option-like text, quotes, shell and markup
#: syntax, controls (NUL, ESC, BEL, DEL, C1), a bidi override, a character outside the BMP, and far too much.
HOSTILE_TITLE = "-u \"hi\" \\ 'q' $(id) `id`; <b>&amp;</b>\n\tnext\x00\x1b[31m\u202eé🙂" + "x" * 10_000
HOSTILE_BODY = "line one\nline two\x07\x7f\x9b C:\\101\\n\\ " + ('ab"c\\ ' * 3000)


#: The child: sends one notice through the notifier named in its job (stdin, JSON) and prints the result.
DELIVER = textwrap.dedent(
    """
    import json, logging, sys
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    from tray.platform import notify
    job = json.load(sys.stdin)
    kind = job["notifier"]
    if kind == "notify-send":
        notifier = notify.NotifySendNotifier()
    elif kind == "plyer":
        notifier = notify.PlyerNotifier()
    else:
        chain = notify.build_chain("linux", icon=None)
        if kind == "chain+pystray":
            class Icon:
                HAS_NOTIFICATION = True
                def notify(self, message, title=None):
                    raise AssertionError("must not be reached on a dead bus")
            chain.insert(0, notify.PystrayNotifier(Icon(), send=notify.dbus_notify))
        notifier = notify.ChainNotifier(chain)
    print(json.dumps({"delivered": notifier.notify(job["title"], job["body"]),
                      "names": [n.name for n in getattr(notifier, "chain", [notifier])]}))
    """
)


def deliver(env: dict, notifier: str, title: str, body: str) -> tuple[dict, str]:
    """Run one notification in a fresh interpreter with ``env``; return its result and its log."""
    env = {**env, "PYTHONPATH": REPO}
    done = subprocess.run(
        [sys.executable, "-c", DELIVER],
        input=json.dumps({"notifier": notifier, "title": title, "body": body}),
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr
