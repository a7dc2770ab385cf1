"""Rails-style request parameters: query + form (with `a[b]` / `a[]` nesting) + JSON body."""
from __future__ import annotations

import json
import re

from flask import Request

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def _assign(target: dict, key: str, value) -> None:
    m = _KEY.match(key)
    if not m:
        target[key] = value
        return
    head, rest = m.group(1), m.group(2)
    parts = re.findall(r"\[([^\[\]]*)\]", rest)
    if not parts:
        target[head] = value
        return
    cur = target
    names = [head] + parts
    for i, name in enumerate(names[:-1]):
        nxt = names[i + 1]
        if nxt == "":
            lst = cur.setdefault(name, [])
            if isinstance(lst, list):
                lst.append(value)
            return
        cur = cur.setdefault(name, {})
        if not isinstance(cur, dict):
            return
    cur[names[-1]] = value


def parse(request: Request) -> dict:
    out: dict = {}
    for key, values in request.args.lists():
        for v in values:
            _assign(out, key, v)
    ctype = (request.mimetype or "").lower()
    if ctype == "application/json":
        try:
            body = json.loads(request.get_data(as_text=True) or "null")
        except ValueError:
            body = None
        if isinstance(body, dict):
            out.update(body)
    else:
        for key, values in request.form.lists():
            for v in values:
                _assign(out, key, v)
    return out


def as_str(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, (dict, list)):
        return None
    return str(v)


def as_int(v) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None
