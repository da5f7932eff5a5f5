"""`segsweep config-docs`: write the configuration reference (docs/configuration.md) from the schema.

The schema (segsweep/config/schema.yaml) is what Snakemake validates a config against, so a page
made from it cannot list a key the workflow refuses or miss one it takes. Every key is listed by
its dotted path (``dataset.generate.height``), with its type, default, allowed values and the
schema's description; ``<name>`` stands for a name the user chooses (``model_variants.<name>``) and
``[]`` for each entry of a list (``models[].builder``). tests/test_config_reference.py fails when
the page and the schema disagree, or when a key has no description.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from segsweep.config.schema import schema

COMMAND = "python -m segsweep config-docs --out docs/configuration.md"
# Bounds and sizes of the JSON schema, as a reader writes them.
_BOUNDS = {
    "minimum": "≥ {}",
    "exclusiveMinimum": "> {}",
    "maximum": "≤ {}",
    "exclusiveMaximum": "< {}",
    "minItems": "{} or more items",
    "maxItems": "{} items at most",
    "minProperties": "{} or more entries",
    "maxProperties": "{} entries at most",
    "minLength": "{} or more characters",
    "pattern": "matches `{}`",
}


@dataclass(frozen=True)
class Key:
    """One row of the reference: a config key as a user writes it."""

    path: str
    type: str
    default: str
    allowed: str
    description: str


def keys(node: dict, path: str = "") -> Iterator[Key]:
    """Every key below `node` (a schema object), parents before their children, in schema order."""
    required = set(node.get("required", ()))
    for name, sub in node.get("properties", {}).items():
        child = f"{path}.{name}" if path else name
        yield _key(child, sub, name in required)
        yield from _below(child, sub)


def _below(path: str, sub: dict) -> Iterator[Key]:
    """The keys inside `sub`: its properties, those of a map's entries (``<name>``) and of a list's
    entries (``[]``), and of each alternative of a ``oneOf``."""
    yield from keys(sub, path)
    entry = sub.get("additionalProperties")
    if isinstance(entry, dict):
        yield from _below(f"{path}.<name>", entry)
    items = sub.get("items")
    if isinstance(items, dict):
        for alternative in items.get("oneOf", [items]):
            yield from _below(f"{path}[]", alternative)
    for alternative in sub.get("oneOf", ()):
        yield from keys(alternative, path)


def _key(path: str, sub: dict, required: bool) -> Key:
    default = "required" if required else "(none)"
    if "default" in sub:
        default = f"`{json.dumps(sub['default'])}`"
    return Key(path, _type(sub), default, _allowed(sub), _cell(sub.get("description", "")))


def _type(sub: dict) -> str:
    """'integer', 'array of integer or null', 'number or "val"'."""
    if "oneOf" in sub:
        return " or ".join(_type(alternative) for alternative in sub["oneOf"])
    if "const" in sub:
        return f"`{json.dumps(sub['const'])}`"
    if "enum" in sub and "type" not in sub:
        return " or ".join(sorted({_json_type(value) for value in sub["enum"]}))
    types = sub.get("type", "any")
    names = []
    for name in [types] if isinstance(types, str) else types:
        items = sub.get("items") if name == "array" else None
        names.append(f"array of {_type(items)}" if isinstance(items, dict) else name)
    return " or ".join(names)


def _json_type(value: object) -> str:
    return {str: "string", bool: "boolean", int: "integer", float: "number", type(None): "null"}[type(value)]


def _allowed(sub: dict) -> str:
    """The values the schema accepts beyond the type: its enum, bounds, sizes and pattern."""
    rules = [", ".join(f"`{json.dumps(value)}`" for value in sub["enum"])] if "enum" in sub else []
    rules += [text.format(sub[word]) for word, text in _BOUNDS.items() if word in sub]
    rules += ["no repeats"] if sub.get("uniqueItems") else []
    return _cell("; ".join(rules))


def _cell(text: str) -> str:
    """One table cell: one line, `|` escaped (it would end the cell) and `<` (``results/<name>/``
    would be read as an HTML tag and vanish), and the docs pages a description names as links
    (the page lives in docs/ beside them)."""
    parts = " ".join(text.split()).replace("|", "\\|").split("`")
    parts[::2] = [part.replace("<", "\\<") for part in parts[::2]]  # outside code spans, where escapes work
    text = "`".join(parts)
    return re.sub(r"\bdocs/([\w-]+\.md)", r"[\1](\1)", text)


def render(config_schema: dict) -> str:
    """The page: one table of the keys that stand alone, then one table per key that holds others
    (its own row first)."""
    top = config_schema.get("properties", {})
    rows = {name: [] for name in top}
    for key in keys(config_schema):
        rows[re.split(r"[.\[]", key.path, maxsplit=1)[0]].append(key)
    header = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]

    def table(found: list[Key]) -> list[str]:
        return [*header, *(f"| `{k.path}` | {k.type} | {k.default} | {k.allowed} | {k.description} |" for k in found)]

    lines = [
        "# Configuration reference",
        "",
        f"<!-- Generated from segsweep/config/schema.yaml by `{COMMAND}`: edit the schema, then run it. -->",
        "",
        _cell(config_schema.get("description", "")),
        "",
        "Every key of a config, by its dotted path: `<name>` is a name you choose, `[]` each entry of a "
        'list. A key left out takes its default; "required" keys have none. Which config files there '
        "are and how they combine: [getting-started.md](getting-started.md#configs-and-experiments).",
        "",
        "## Top-level keys",
        "",
        *table([found[0] for found in rows.values() if len(found) == 1]),
    ]
    for name, found in rows.items():
        if len(found) > 1:
            lines += ["", f"## `{name}`", "", *table(found)]
    return "\n".join(lines) + "\n"


def add_arguments(parser) -> None:
    parser.add_argument(
        "--out", type=Path, default=Path("docs/configuration.md"), help="the page to write (default: %(default)s)"
    )


def run(args) -> int:
    args.out.write_text(render(schema()), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0
