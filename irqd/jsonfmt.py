"""JSON for golden files and scripts: indented objects, lists of numbers on one line."""

from __future__ import annotations

import json

# objects of plain values up to this long print on one line, so a golden
# diff shows one changed IRQ as one changed line
_ONE_LINE = 400


def dumps(value, indent: int = 1) -> str:
    return _dump(value, 0, indent) + "\n"


def _dump(value, level: int, indent: int) -> str:
    pad = " " * (indent * (level + 1))
    end = " " * (indent * level)
    if isinstance(value, dict):
        if not value:
            return "{}"
        flat = all(not isinstance(v, (dict, list, tuple)) or
                   (isinstance(v, (list, tuple)) and all(not isinstance(x, (dict, list, tuple)) for x in v))
                   for v in value.values())
        if flat:
            line = json.dumps(value)
            if len(line) <= _ONE_LINE:
                return line
        items = [f"{pad}{json.dumps(str(k))}: {_dump(v, level + 1, indent)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in value):
            return json.dumps(list(value))
        items = [pad + _dump(v, level + 1, indent) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + end + "]"
    return json.dumps(value)
