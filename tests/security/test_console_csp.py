"""The built console runs under the strict Content-Security-Policy: nothing inline in ``index.html``."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.support.services import services_required

STATIC = Path(__file__).resolve().parents[2] / "watchkeeper" / "api" / "static"


class _InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name.lower(): value for name, value in attrs}
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            self._in_script = True
            if not names.get("src"):
                self.problems.append("<script> without src")
        if "style" in names:
            self.problems.append(f"style attribute on <{tag}>")
        self.problems.extend(f"{name} handler on <{tag}>" for name in names if name.startswith("on"))
        if any((value or "").strip().lower().startswith("javascript:") for value in names.values()):
            self.problems.append(f"javascript: URL on <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("inline script text")


def test_the_built_console_needs_no_inline_script_or_style() -> None:
    index = STATIC / "index.html"
    if not index.is_file():
        if services_required():
            pytest.fail("the console is not built (make web)")
        pytest.skip("the console is not built (make web)")
    finder = _InlineFinder()
    finder.feed(index.read_text())
    assert finder.problems == []
    for script in (STATIC / "assets").glob("*.js"):
        text = script.read_text(errors="replace")
        assert "eval(" not in text, f"{script.name} needs unsafe-eval"
        assert "new Function(" not in text, f"{script.name} needs unsafe-eval"
