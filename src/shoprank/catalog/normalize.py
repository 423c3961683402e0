"""Small text clean-ups shared by importers."""
from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>]+>")
_BLOCK = re.compile(r"</?(p|br|li|ul|ol|div|h\d)\b[^>]*>", re.I)
_WS = re.compile(r"[ \t\r\f\v]+")


def html_to_text(s: str | None) -> str:
    """Strip HTML markup, keep paragraph/list breaks as newlines."""
    if not s:
        return ""
    s = _BLOCK.sub("\n", s)
    s = html.unescape(_TAG.sub(" ", s))
    lines = [_WS.sub(" ", ln).strip() for ln in s.splitlines()]
    return "\n".join(ln for ln in lines if ln)


def split_multi(s: str | None, seps: str = "|\n;") -> list[str]:
    """Split a multi-valued cell such as ``"Nylon|Polyester"``."""
    if s is None:
        return []
    parts = re.split("[" + re.escape(seps) + "]", str(s))
    return [p.strip() for p in parts if p.strip()]
