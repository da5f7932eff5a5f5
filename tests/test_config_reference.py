"""docs/configuration.md is made from the schema, and every key of the schema says what it does.

The page is regenerated in memory and compared with the file, so a schema change that is not
carried to the page (or a hand edit of the page) fails here, naming the command that remakes it.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path

import pytest

from conftest import REPO
from segsweep.cli import main
from segsweep.config.reference import COMMAND, keys, render
from segsweep.config.schema import schema

PAGE = REPO / "docs" / "configuration.md"


def test_the_page_is_the_schemas() -> None:
    written, made = PAGE.read_text(encoding="utf-8"), render(schema())
    if written != made:
        diff = difflib.unified_diff(written.splitlines(), made.splitlines(), "docs/configuration.md", "schema", n=0)
        pytest.fail(
            f"docs/configuration.md disagrees with segsweep/config/schema.yaml; run `{COMMAND}`.\n"
            + "\n".join(list(diff)[:12])
        )


def test_every_key_says_what_it_does() -> None:
    found = list(keys(schema()))
    undescribed = [key.path for key in found if not key.description]
    assert not undescribed, (
        "give each key a description in segsweep/config/schema.yaml, saying what it does and its unit: "
        + ", ".join(undescribed)
    )
    assert len({key.path for key in found}) == len(found)  # one row per key


def test_the_command_writes_the_page(tmp_path: Path) -> None:
    out = tmp_path / "configuration.md"
    assert main(["config-docs", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render(schema())


def test_a_new_key_changes_the_page() -> None:
    """The check can fail: a key added to the schema is a row the page lacks."""
    changed = copy.deepcopy(schema())
    changed["properties"]["train"]["properties"]["patience_epochs"] = {
        "type": "integer",
        "minimum": 0,
        "default": 3,
        "description": "epochs to wait | in epochs",
    }
    row = "| `train.patience_epochs` | integer | `3` | ≥ 0 | epochs to wait \\| in epochs |"
    assert row in render(changed).splitlines() and row not in render(schema())
