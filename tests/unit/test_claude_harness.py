"""The real-client harness itself: the stand-in API's answers over real HTTP, and one pinned client version.

The real client is what the e2e tests drive; these check, without it, that the stand-in answers as the Messages
API does (server-sent events in order, an error as JSON with its status, title and token-count requests), so a
failing real-client test points at Orchestray, not at the stand-in.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from claude_api import BashToolUse, HTTPError, Slow, StandInAPI, Text
from real_claude import PINNED_VERSION, REPO, squeeze, strip_escapes


def post(api: StandInAPI, path: str, body: Dict[str, Any], timeout: float = 30) -> Tuple[int, str]:
    request = urllib.request.Request(api.url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def events(text: str) -> List[Tuple[str, Dict[str, Any]]]:
    found = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        found.append((lines["event"], json.loads(lines["data"])))
    return found


def turn(text: str) -> Dict[str, Any]:
    return {"model": "m", "stream": True, "tools": [{"name": "Bash"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "<system-reminder>x</system-reminder>"},
                                                      {"type": "text", "text": text}]}]}


@pytest.fixture
def api() -> Any:
    with StandInAPI() as running:
        yield running


def test_text_and_tool_use_stream_as_the_messages_api_does(api: StandInAPI) -> None:
    api.when("hello", Text("Hi there."))
    api.when("run", BashToolUse("touch x"))
    status, body = post(api, "/v1/messages", turn("say hello"))
    kinds = [kind for kind, _ in events(body)]
    assert status == 200 and kinds == ["message_start", "content_block_start", "content_block_delta",
                                       "content_block_stop", "message_delta", "message_stop"]
    assert events(body)[2][1]["delta"] == {"type": "text_delta", "text": "Hi there."}
    assert events(body)[4][1]["delta"]["stop_reason"] == "end_turn"

    _, body = post(api, "/v1/messages", turn("please run it"))
    start = events(body)[1][1]["content_block"]
    assert (start["type"], start["name"]) == ("tool_use", "Bash")
    assert json.loads(events(body)[2][1]["delta"]["partial_json"]) == {"command": "touch x",
                                                                        "description": "Run a command"}
    assert events(body)[4][1]["delta"]["stop_reason"] == "tool_use"
    result = {"model": "m", "stream": True, "messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": start["id"], "content": "ok"}]}]}
    _, body = post(api, "/v1/messages", result)
    assert events(body)[2][1]["delta"]["text"] == "The command ran."
    assert [r.answered_with for r in api.main_requests()] == ["Text", "BashToolUse", "Text"]


def test_the_latest_trigger_wins_a_prompt_sent_after_a_failed_one(api: StandInAPI) -> None:
    api.when("please fail", HTTPError(400))
    api.when("run tool", BashToolUse("touch x"))
    status, body = post(api, "/v1/messages", turn("please fail now"))
    assert status == 400 and json.loads(body)["error"]["message"].endswith("on purpose")
    status, _ = post(api, "/v1/messages", turn("please fail now\n\nrun tool now"))
    assert status == 200 and api.main_requests()[-1].answered_with == "BashToolUse"


def test_titles_and_token_counts_are_not_main_requests(api: StandInAPI) -> None:
    api.when("", HTTPError(500))  # would match anything that is a main request
    title = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "<session>hi</session>"}]}
    assert post(api, "/v1/messages", title)[0] == 200
    status, body = post(api, "/v1/messages/count_tokens", turn("x"))
    assert (status, json.loads(body)) == (200, {"input_tokens": 42})
    assert [r.kind for r in api.requests] == ["title", "count_tokens"] and api.main_requests() == []


def test_a_slow_answer_waits_until_released(api: StandInAPI) -> None:
    slow = api.when("go slow", Slow("at last", preamble="thinking"))
    answers: List[str] = []
    reader = threading.Thread(target=lambda: answers.append(post(api, "/v1/messages", turn("go slow"))[1]))
    reader.start()
    api.wait_for(lambda r: r.answered_with == "Slow", 30, "the slow request")
    assert answers == []  # still streaming
    slow.release()
    reader.join(timeout=30)
    texts = [data["delta"]["text"] for kind, data in events(answers[0]) if kind == "content_block_delta"]
    assert texts == ["thinking", "at last"]


def test_screen_text_without_escape_sequences() -> None:
    raw = b"\x1b[2J\x1b[1;1H\x1b]0;title\x07\x1b[38;5;12m\xe2\x9d\xaf please\x1b[0m\x1b[2C think\r\n? for shortcuts"
    assert strip_escapes(raw) == "❯ please think\n? for shortcuts"
    assert squeeze(strip_escapes(raw)) == "❯pleasethink?forshortcuts"


def test_one_pinned_client_version_everywhere() -> None:
    """`.ci/run` installs, the harness names, and the macOS/Windows workflow installs the same version."""
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^CLAUDE_CODE_VERSION=(\S+)$", ci, re.M).group(1) == PINNED_VERSION  # type: ignore[union-attr]
    workflow = Path(REPO / ".github" / "workflows" / "build.yml")
    if workflow.exists():
        pinned = re.search(r'CLAUDE_CODE_VERSION: "([^"]+)"', workflow.read_text(encoding="utf-8"))
        assert pinned is not None and pinned.group(1) == PINNED_VERSION
