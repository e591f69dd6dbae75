"""A stand-in for the Anthropic Messages API on 127.0.0.1, so the real Claude Code client completes turns offline.

The real client (pointed here with ``ANTHROPIC_BASE_URL``) sends ``POST /v1/messages`` with ``"stream": true``
and reads server-sent events (``message_start``, ``content_block_start``, ``content_block_delta``,
``content_block_stop``, ``message_delta``, ``message_stop``); it also sends ``POST /v1/messages/count_tokens``
and, beside each turn's main request, a title-generation request whose user text starts with ``<session>``.

What each main request gets is scripted by the test with :meth:`StandInAPI.when`: the rule whose trigger
occurs latest in the last user text of the request decides (a text that ends the turn, a Bash ``tool_use`` that makes
Claude Code ask for permission, an HTTP error, or a slow answer that waits until released or interrupted).
The request that carries a tool's result gets `after_tool`; anything else a short text that ends the turn.
Every request is recorded, so a test can wait for "the slow answer has started" instead of sleeping.

Hand-written on the standard library (``http.server``): a test dependency on an HTTP framework would buy
nothing here, and the SSE framing is a dozen lines.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List, Optional, Tuple

MODEL = "claude-sonnet-4-5"
TOOL_RESULT = "<tool_result>"  # marks a tool's result in the recorded user text


@dataclass(frozen=True)
class Text:
    """An answer that ends the turn (``stop_reason: end_turn``)."""

    text: str


@dataclass(frozen=True)
class BashToolUse:
    """A Bash ``tool_use``: Claude Code asks the user for permission before running ``command``."""

    command: str
    description: str = "Run a command"


@dataclass(frozen=True)
class ToolUse:
    """Any other ``tool_use``: the tool ``name`` called with ``input`` (e.g. ToolSearch, then TaskCreate)."""

    name: str
    input: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HTTPError:
    """An HTTP error answer; 400 is not retried by the client, so the turn fails at once (StopFailure)."""

    status: int = 400
    message: str = "stand-in API: this request is refused on purpose"
    error_type: str = "invalid_request_error"


@dataclass
class Slow:
    """Starts streaming, then waits until :meth:`release` (or ``limit`` seconds) before the text comes."""

    text: str = "finally done"
    limit: float = 120.0
    preamble: str = ""  # text streamed before the wait (an interrupted answer that had begun)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


Answer = Any  # Text | BashToolUse | ToolUse | HTTPError | Slow


@dataclass(frozen=True)
class Request:
    """One request the client made, as recorded by the server."""

    path: str
    kind: str  # "main", "title", "count_tokens", "other"
    last_user_text: str
    body: Dict[str, Any]
    answered_with: str


def last_user_text(body: Dict[str, Any]) -> str:
    """The text of the last user message (text blocks and tool results), the part a rule is matched against."""
    messages = body.get("messages") or []
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        return _text_of(message.get("content"))
    return ""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts: List[str] = []
    if isinstance(content, list):
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            elif block.get("type") == "tool_result":
                parts.append(TOOL_RESULT + _text_of(block.get("content")))
    return "\n".join(parts)


def _is_title_request(body: Dict[str, Any], text: str) -> bool:
    if text.lstrip().startswith("<session>"):
        return True
    system = json.dumps(body.get("system", ""))
    return "title" in system.lower() and not body.get("tools")


class StandInAPI:
    """The server; start it with :meth:`start` (a free port on 127.0.0.1), stop it with :meth:`stop`."""

    def __init__(self) -> None:
        self.rules: List[Tuple[str, Answer]] = []
        #: What the request carrying a tool's result gets (a Slow one keeps the turn going after the tool ran).
        self.after_tool: Answer = Text("The command ran.")
        #: Rules for the requests that carry a tool's result, matched against that result (see :meth:`after`).
        self.tool_rules: List[Tuple[str, Answer]] = []
        self.requests: List[Request] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._serial = 0

    # ---- scripting -----------------------------------------------------------------------------------

    def when(self, trigger: str, answer: Answer) -> Answer:
        """Answer a main request whose last user text contains `trigger` with `answer`."""
        with self._lock:
            self.rules.append((trigger, answer))
        return answer

    def after(self, trigger: str, answer: Answer) -> Answer:
        """Answer a request carrying a tool's result that contains `trigger` with `answer` (a next tool call):
        a turn of several tool calls. Without a match such a request gets `after_tool`."""
        with self._lock:
            self.tool_rules.append((trigger, answer))
        return answer

    def _choose(self, text: str) -> Answer:
        """The answer of the rule whose trigger occurs latest in the text: a prompt sent after a failed one
        arrives in the same user message, after it."""
        if TOOL_RESULT in text:
            result = text[text.rfind(TOOL_RESULT):]
            with self._lock:
                for trigger, answer in self.tool_rules:
                    if trigger in result:
                        return answer
            return self.after_tool
        best: Optional[Tuple[int, Answer]] = None
        with self._lock:
            for trigger, answer in self.rules:
                at = text.rfind(trigger)
                if at >= 0 and (best is None or at > best[0]):
                    best = (at, answer)
        return best[1] if best is not None else Text("Done.")

    # ---- observing -----------------------------------------------------------------------------------

    def wait_for(self, predicate, timeout: float, what: str) -> Request:
        """The first recorded request that satisfies `predicate`, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for request in self.requests:
                    if predicate(request):
                        return request
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(r.kind, r.last_user_text[:40], r.answered_with) for r in self.requests]
                    raise AssertionError(f"the stand-in API never got {what} in {timeout:.0f} s; it got {seen}")
                self._changed.wait(remaining)

    def main_requests(self) -> List[Request]:
        with self._lock:
            return [r for r in self.requests if r.kind == "main"]

    def _record(self, request: Request) -> None:
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()

    # ---- lifecycle -----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in API first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StandInAPI:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": self.path}})

            def do_HEAD(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {}
                if not isinstance(body, dict):
                    body = {}
                path = self.path.split("?", 1)[0]
                text = last_user_text(body)
                if path.endswith("/count_tokens"):
                    api._record(Request(path, "count_tokens", text, body, "count"))
                    self._json(200, {"input_tokens": 42})
                    return
                if not path.endswith("/v1/messages"):
                    api._record(Request(path, "other", text, body, "404"))
                    self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": path}})
                    return
                if _is_title_request(body, text):
                    api._record(Request(path, "title", text, body, "title"))
                    self._answer(body, Text('{"title": "Stand-in session"}'))
                    return
                answer = api._choose(text)
                api._record(Request(path, "main", text, body, type(answer).__name__))
                self._answer(body, answer)

            # ---- writing answers ----

            def _json(self, status: int, data: Dict[str, Any]) -> None:
                payload = json.dumps(data).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("request-id", "req_standin")
                self.end_headers()
                self.wfile.write(payload)

            def _answer(self, body: Dict[str, Any], answer: Answer) -> None:
                if isinstance(answer, HTTPError):
                    self.close_connection = True
                    self._json(answer.status, {
                        "type": "error", "error": {"type": answer.error_type, "message": answer.message},
                    })
                    return
                if not body.get("stream"):
                    self._json(200, api._message(body, answer))
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("request-id", "req_standin")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    for event, data in api._events(body, answer):
                        self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away (Esc interrupts a slow answer)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="stand-in-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            slow = [a for _, a in self.rules if isinstance(a, Slow)]
        for answer in slow:
            answer.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> StandInAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- message bodies ------------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._serial += 1
            return f"{prefix}_standin{self._serial:06d}"

    def _message(self, body: Dict[str, Any], answer: Answer) -> Dict[str, Any]:
        """The non-streamed form (rarely used by the client, kept for completeness)."""
        if isinstance(answer, (BashToolUse, ToolUse)):
            content: List[Dict[str, Any]] = [self._tool_block(answer)]
            stop = "tool_use"
        else:
            content = [{"type": "text", "text": answer.text}]
            stop = "end_turn"
        return {
            "id": self._next_id("msg"), "type": "message", "role": "assistant",
            "model": body.get("model") or MODEL, "content": content, "stop_reason": stop,
            "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 5},
        }

    def _tool_block(self, answer: Any) -> Dict[str, Any]:
        if isinstance(answer, ToolUse):
            return {"type": "tool_use", "id": self._next_id("toolu"), "name": answer.name, "input": answer.input}
        return {
            "type": "tool_use", "id": self._next_id("toolu"), "name": "Bash",
            "input": {"command": answer.command, "description": answer.description},
        }

    def _events(self, body: Dict[str, Any], answer: Answer) -> Iterator[Tuple[str, Dict[str, Any]]]:
        yield "message_start", {"type": "message_start", "message": {
            "id": self._next_id("msg"), "type": "message", "role": "assistant",
            "model": body.get("model") or MODEL, "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 1},
        }}
        index = 0
        if isinstance(answer, Slow):
            if answer.preamble:
                yield "content_block_start", {"type": "content_block_start", "index": 0,
                                              "content_block": {"type": "text", "text": ""}}
                yield "content_block_delta", {"type": "content_block_delta", "index": 0,
                                              "delta": {"type": "text_delta", "text": answer.preamble}}
                yield "content_block_stop", {"type": "content_block_stop", "index": 0}
                index = 1
            yield "ping", {"type": "ping"}
            deadline = time.monotonic() + answer.limit
            while not answer.released.wait(0.5) and time.monotonic() < deadline:
                yield "ping", {"type": "ping"}  # also notices a client that went away (Esc)
        if isinstance(answer, (BashToolUse, ToolUse)):
            block = self._tool_block(answer)
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": dict(block, input={})}
            yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(block["input"])}}
            stop = "tool_use"
        else:
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {"type": "text", "text": ""}}
            yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": "text_delta", "text": answer.text}}
            stop = "end_turn"
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
        yield "message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                "usage": {"output_tokens": 5}}
        yield "message_stop", {"type": "message_stop"}
