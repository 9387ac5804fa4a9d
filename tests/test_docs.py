"""The README and docs/ speak to users: every page they link exists, no word of a developer's own
set-up, commands in the environment the set-up made, and the sections other pages point at."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", REPO / "config" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in page.read_text(encoding="utf-8").splitlines() if line.startswith("#")}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_to_a_page_of_the_project_resolves(page):
    for target, anchor in LINK.findall(page.read_text(encoding="utf-8")):
        if "://" in target or target.startswith("mailto:"):
            continue
        path = (page.parent / target).resolve()
        assert path.exists(), f"{page.relative_to(REPO)} links to {target}, which does not exist"
        if anchor and path.suffix == ".md":
            assert anchor[1:] in anchors(path), f"{page.relative_to(REPO)} links to {target}{anchor}: no such heading"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_pages_speak_to_users_not_of_our_own_machines(page):
    text = page.read_text(encoding="utf-8")
    for phrase in (r"\.\./shared", r"these machines", r"this machine", r"this project.s (machine|[0-9]-core)", r"Python 3\.11(?! or newer)"):
        assert not re.search(phrase, text, re.IGNORECASE), f"{page.relative_to(REPO)}: {phrase!r}"


def test_readme_front_page_is_short_and_has_the_user_sections():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 160
    for heading in ("Set-up: two commands", "Your own videos", "Where the outputs are", "Your footage", "Your eye-tracking data"):
        assert f"## {heading}" in readme
    assert "make run" in readme and "make test" in readme
    assert "source .venv/bin/activate" in readme
