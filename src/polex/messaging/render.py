"""Message bodies are Markdown; readers get HTML that cannot run anything.

Two layers: markdown-it with raw HTML disabled (a body's ``<script>`` stays text) and its own
link validation, then bleach with an allow-list of tags, attributes and URL schemes, in case a
future parser option lets something through. Images are not allowed: an image URL in a message
would tell its host who read the message and when."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import bleach
from markdown_it import MarkdownIt
from markdown_it.token import Token

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "blockquote", "pre", "code", "em", "strong", "del", "a",
        "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": ["href", "title", "rel"], "ol": ["start"]}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"


def _link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("rel", LINK_REL)
    return str(self.renderToken(tokens, idx, options, env))


_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
    ["table", "strikethrough"]
)
_markdown.add_render_rule("link_open", _link_open)
_cleaner = bleach.Cleaner(
    tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, protocols=ALLOWED_PROTOCOLS, strip=True
)


def to_html(body: str) -> str:
    return _cleaner.clean(_markdown.render(body))
