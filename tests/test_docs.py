"""The README is a user's way in, and its links and the docs' hold.

- Every relative link of README.md and docs/*.md names a file that exists, and a ``#anchor`` a
  heading of that file (as GitHub makes anchors from headings), so a moved section breaks here.
- The README links every page of docs/ and stays short (detail belongs in docs/).
- A commit hash in the README stands in a paragraph that dates its figure: the README says what
  segsweep does now, and docs/results.md keeps the history.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import REPO

README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
COMMIT = re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b")
DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives `page`'s headings: lower case, punctuation dropped, spaces as
    hyphens, a repeated heading numbered."""
    found: set[str] = set()
    for heading in re.findall(r"^#+ (.+)$", FENCE.sub("", page.read_text(encoding="utf-8")), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        number, anchor = 0, slug
        while anchor in found:
            number += 1
            anchor = f"{slug}-{number}"
        found.add(anchor)
    return found


def links(page: Path) -> list[str]:
    return LINK.findall(FENCE.sub("", page.read_text(encoding="utf-8")))


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(REPO)) for page in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target} (no heading with that anchor in {file.relative_to(REPO)})")
    assert not broken, f"{page.relative_to(REPO)}: broken links: {broken}"


def test_the_readme_links_every_docs_page_and_stays_short() -> None:
    linked = {(REPO / target.partition("#")[0]).resolve() for target in links(README)}
    unlinked = [page.name for page in PAGES[1:] if page.resolve() not in linked]
    assert not unlinked, f"README.md links no docs page {unlinked}: add each to its Documentation table"
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= 250, f"README.md has {lines} lines: it is for a user; move detail to a page of docs/"


def test_readme_commit_hashes_date_a_figure() -> None:
    paragraphs = re.split(r"\n\s*\n", FENCE.sub("", README.read_text(encoding="utf-8")))
    undated = [hashes for text in paragraphs if (hashes := COMMIT.findall(text)) and not DATE.search(text)]
    assert not undated, f"README.md: commit hashes {undated} beside no dated figure; the history is docs/results.md's"


def test_the_anchor_rule_is_githubs(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# `make test` and `make run`: in fresh clones\n## Same seed, same result\n## Same seed, same result\n"
    )
    assert anchors(page) == {
        "make-test-and-make-run-in-fresh-clones",
        "same-seed-same-result",
        "same-seed-same-result-1",
    }
