"""Parse a ``settings.json`` and render a changed version of it that keeps the file's own layout.

``settings.json`` belongs to the user and to Claude Code; we change a few hook entries in it. So rendering is
not ``json.dumps``: every value that did not change comes back as the exact text it had (inline objects stay
inline, tabs stay tabs, number spellings, escapes and key order stay), and a container that changed keeps
its own layout (one line or one member per line, its indentation, its separators). Only new values (our hook
groups) are laid out fresh, in the file's indentation. After ``install`` + ``uninstall`` the data is equal to
the original, so the whole file comes back byte for byte.

Hand-written because no maintained library does this for plain JSON in the standard library's terms: the
round-trip libraries (``json5``-style, ``tomlkit``-like) are for other formats or rewrite strings and numbers.
The span scanner runs only on text that ``json.loads`` already accepted, so it needs no error reporting.

``parse_settings`` refuses rather than guesses: a file that is not UTF-8 JSON, whose top level is not an
object, whose ``"hooks"`` is not an object or whose event value is not a list raises :class:`SettingsError`
(one line naming the file and, for syntax errors, the line and column). An empty (or all-whitespace) file is
``{}``. ``NaN``/``Infinity`` are refused because Claude Code's JSON parser refuses them.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

_WHITE = " \t\r\n"


class SettingsError(Exception):
    """The settings file cannot be used as it is (bad JSON, wrong shape, unreadable); nothing was written.

    ``str(error)`` is one line that names the file; the CLI prints it and exits 2.
    """

    def __init__(self, message: str, path: Optional[str] = None) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class Style:
    """How the file was written: the original text (for the layout of what did not change) and its framing."""

    text: str = ""
    indent: str = "  "
    newline: str = "\n"
    final_newline: bool = True
    bom: bool = False


def detect_style(text: str, bom: bool) -> Style:
    if not text.strip():
        return Style(bom=bom)
    newline = "\r\n" if "\r\n" in text else "\n"
    indent = "  "
    for line in text.splitlines()[1:]:
        body = line.lstrip(" \t")
        lead = line[: len(line) - len(body)]
        if lead and body:
            indent = "\t" if lead.startswith("\t") else lead
            break
    return Style(text=text, indent=indent, newline=newline, final_newline=text.endswith("\n"), bom=bom)


# --------------------------------------------------------------------------------------------------------
# Where each value sits in the text
# --------------------------------------------------------------------------------------------------------


@dataclass
class Node:
    """One value of the original text: its span, its parsed value and, for containers, its children."""

    start: int
    end: int
    value: Any
    members: List[Tuple[str, Node]] = field(default_factory=list)  # objects, in order
    items: List[Node] = field(default_factory=list)  # arrays
    colon: str = ": "  # objects: the text between the first key and its value
    comma: str = ", "  # the text between the first two children


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in _WHITE:
        at += 1
    return at


def _scan(text: str, at: int, decoder: json.JSONDecoder) -> Node:
    at = _skip(text, at)
    char = text[at]
    if char == "{":
        node = Node(at, at, None)
        values: Dict[str, Any] = {}
        at = _skip(text, at + 1)
        if text[at] == "}":
            node.end, node.value = at + 1, values
            return node
        while True:
            key, at = decoder.raw_decode(text, _skip(text, at))
            colon_at = at
            at = _skip(text, at) + 1  # the colon
            child = _scan(text, at, decoder)
            if not node.members:
                node.colon = text[colon_at : child.start]
            elif len(node.members) == 1:
                node.comma = text[node.members[0][1].end : _skip(text, text.index(",", node.members[0][1].end) + 1)]
            node.members.append((key, child))
            values[key] = child.value
            at = _skip(text, child.end)
            if text[at] == "}":
                node.end, node.value = at + 1, values
                return node
            at += 1  # the comma
    if char == "[":
        node = Node(at, at, None)
        at = _skip(text, at + 1)
        if text[at] == "]":
            node.end, node.value = at + 1, []
            return node
        while True:
            child = _scan(text, at, decoder)
            if len(node.items) == 1:
                node.comma = text[node.items[0].end : child.start]
            node.items.append(child)
            at = _skip(text, child.end)
            if text[at] == "]":
                node.end, node.value = at + 1, [item.value for item in node.items]
                return node
            at += 1
    value, end = decoder.raw_decode(text, at)
    return Node(at, end, value)


def scan(text: str) -> Optional[Node]:
    """The root node of JSON text that ``json.loads`` accepted; None when empty or too deep to scan."""
    if not text.strip():
        return None
    try:
        return _scan(text, 0, json.JSONDecoder())
    except (RecursionError, ValueError, IndexError):
        return None


def same(a: Any, b: Any) -> bool:
    """Equal as JSON text would be: same types (``true`` is not ``1``), same key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[key], b[key]) for key in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


# --------------------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------------------


class _Renderer:
    def __init__(self, style: Style, ascii_only: bool) -> None:
        self.style = style
        self.text = style.text
        self.ascii_only = ascii_only

    def scalar(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=self.ascii_only)

    def render(self, value: Any, node: Optional[Node], indent: str, inline: Optional[Tuple[str, str]] = None) -> str:
        """``inline``: the (comma, colon) of the one-line container this value sits in, if it does."""
        if node is not None and same(value, node.value):
            return self.text[node.start : node.end]
        if isinstance(value, dict):
            kind_node = node if node is not None and isinstance(node.value, dict) else None
            return self.container(value, kind_node, indent, "{", "}", inline)
        if isinstance(value, list):
            kind_node = node if node is not None and isinstance(node.value, list) else None
            return self.container(value, kind_node, indent, "[", "]", inline)
        return self.scalar(value)

    def _layout(
        self, node: Optional[Node], indent: str, inline: Optional[Tuple[str, str]]
    ) -> Tuple[bool, str, str, str, str]:
        """(inline, member indent, closing indent, item separator, key separator) of a container.

        An original container keeps its layout. A new one is laid out one member per line in the file's
        indentation, or on one line like its parent when that is on one line.
        """
        if node is None:
            if inline is not None:
                return True, "", "", inline[0], inline[1]
            return False, indent + self.style.indent, indent, ",", ": "
        text = self.text
        colon = node.colon if ":" in node.colon else ": "
        first = _skip(text, node.start + 1)  # the first key or item (or the closing bracket)
        if "\n" not in text[node.start : node.end]:
            comma = node.comma if "," in node.comma else ", "
            pad = text[node.start + 1 : first] if first < node.end - 1 else ""
            return True, pad, pad, comma, colon
        line_start = text.rfind("\n", node.start, first) + 1
        member = text[line_start:first] if line_start > node.start and first < node.end - 1 else ""
        if not member or member.strip(" \t"):
            member = indent + self.style.indent
        close_start = text.rfind("\n", node.start, node.end - 1) + 1
        closing = text[close_start : node.end - 1]
        if close_start <= node.start or closing.strip(" \t"):
            closing = indent
        comma = "," if "," in node.comma else ","
        return False, member, closing, comma, colon

    def container(self, value: Union[Dict[str, Any], List[Any]], node: Optional[Node], indent: str, open_: str,
                  close: str, inline_parent: Optional[Tuple[str, str]] = None) -> str:
        if not value:
            return open_ + close
        inline, member, closing, comma, colon = self._layout(node, indent, inline_parent)
        child_indent = indent if inline else member
        context = (comma, colon) if inline else None
        parts = []
        if isinstance(value, dict):
            originals = dict(node.members) if node is not None else {}
            for key, child in value.items():
                rendered = self.render(child, originals.get(key), child_indent, context)
                parts.append(self.scalar(key) + colon + rendered)
        else:
            for item, original in zip(value, self._match_items(value, node)):
                parts.append(self.render(item, original, child_indent, context))
        if inline:
            return open_ + member + comma.join(parts) + closing + close
        newline = self.style.newline
        return open_ + newline + (comma + newline).join(member + part for part in parts) + newline + closing + close

    @staticmethod
    def _match_items(value: List[Any], node: Optional[Node]) -> List[Optional[Node]]:
        """For each new item, the original item it came from: an equal one first, else the one at its place."""
        if node is None:
            return [None] * len(value)
        unused = list(range(len(node.items)))
        matched: List[Optional[Node]] = []
        for item in value:
            found = next((i for i in unused if same(item, node.items[i].value)), None)
            matched.append(node.items[found] if found is not None else None)
            if found is not None:
                unused.remove(found)
        for index, item in enumerate(value):
            if matched[index] is None and index in unused and isinstance(item, (dict, list)):
                original = node.items[index]
                if type(original.value) is type(item):
                    matched[index] = original
                    unused.remove(index)
        return matched


def render(data: Any, style: Style) -> bytes:
    """The bytes of ``data`` laid out like the file ``style`` was read from (see the module docstring)."""
    root = scan(style.text)
    text = style.text
    try:
        body = _Renderer(style, ascii_only=False).render(data, root, "")
        body.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a "\ud800" escape: keep it escaped
        body = _Renderer(style, ascii_only=True).render(data, root, "")
    if root is not None:
        out = text[: root.start] + body + text[root.end :]
    else:
        out = body + (style.newline if style.final_newline else "")
    if root is None and style.newline != "\n":
        out = out.replace("\n", style.newline)
    raw = out.encode("utf-8", "surrogatepass")
    return codecs.BOM_UTF8 + raw if style.bom else raw


# --------------------------------------------------------------------------------------------------------
# Parsing and checking
# --------------------------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def parse_settings(raw: bytes, path: str = "settings.json") -> Tuple[Dict[str, Any], Style]:
    """Parse the bytes of a settings file and check the parts we depend on, or raise :class:`SettingsError`."""
    bom = raw.startswith(codecs.BOM_UTF8)
    try:
        text = raw[len(codecs.BOM_UTF8) :].decode("utf-8") if bom else raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})", path) from None
    style = detect_style(text, bom)
    if not text.strip():
        return {}, style
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"{path}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", path
        ) from None
    except RecursionError:
        raise SettingsError(f"{path}: not usable JSON: nested too deeply", path) from None
    except ValueError as exc:
        raise SettingsError(f"{path}: not valid JSON: {exc}", path) from None
    check_structure(data, path)
    return data, style


def check_structure(data: Any, path: str = "settings.json") -> None:
    """Refuse the shapes we could not merge into without guessing (see the module docstring)."""
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: the top level is {_kind(data)}, not a JSON object", path)
    if "hooks" not in data:
        return
    hooks = data["hooks"]
    if not isinstance(hooks, dict):
        raise SettingsError(f'{path}: "hooks" is {_kind(hooks)}, not a JSON object', path)
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            raise SettingsError(f'{path}: "hooks"."{event}" is {_kind(groups)}, not a list', path)
