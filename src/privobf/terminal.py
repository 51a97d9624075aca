"""Text about files, made safe to print: a file name is data, and data must not drive the terminal.

A photo may be called `\x1b]0;pwned\x07.jpg` or hold a newline; printed raw, the first retitles or
reprograms the terminal and the second forges an extra line of output ("privobf: all photos done").
Names that are not valid UTF-8 come to Python as lone surrogates, which a UTF-8 stdout refuses with a
traceback. Every line privobf prints about a file goes through `printable`; JSON Lines through
`json_line`, which escapes the same characters inside JSON strings (JSON only escapes C0 itself).
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 and C1 controls, DEL, line / paragraph separators, bidirectional overrides and isolates, surrogates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """`text` with every unsafe character written as a visible escape (`\\x1b`, `\\n`, `\\u202e`)."""
    return _UNSAFE.sub(_escape, str(text))


def _escape(match: re.Match) -> str:
    character = match.group()
    code = ord(character)
    if character in _NAMED:
        return _NAMED[character]
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by the file system's surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def json_line(document: Any) -> str:
    """One JSON Lines record, valid JSON, with no character a terminal would act on."""
    text = json.dumps(document, ensure_ascii=False)
    return _UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
