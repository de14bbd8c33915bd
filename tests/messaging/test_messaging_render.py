"""Message bodies render as Markdown that cannot run script, load images or use odd links."""

from __future__ import annotations

from polex.messaging.render import to_html


def test_markdown_renders_and_html_stays_text() -> None:
    html = to_html("**Bold** and <script>alert(1)</script>\n\n<img src=x onerror=alert(1)>")
    assert "<strong>Bold</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html


def test_links_are_limited_and_hardened() -> None:
    html = to_html(
        "[ok](https://europol.example/x) [bad](javascript:alert(1)) ![i](http://t/p.png)"
    )
    assert '<a href="https://europol.example/x" rel="noopener noreferrer nofollow">ok</a>' in html
    assert 'href="javascript' not in html
    assert "<img" not in html and "http://t/p.png" not in html


def test_tables_and_code_survive() -> None:
    html = to_html("| plate | seen |\n|---|---|\n| B-XY 123 | Kehl |\n\n`code`")
    assert "<td>B-XY 123</td>" in html and "<code>code</code>" in html
