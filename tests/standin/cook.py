"""Markdown -> "cooked" HTML, shaped like Discourse's output.

Discourse cooks with markdown-it; its defaults that matter here: raw HTML is not passed
through (the sanitizer drops/escapes it), single newlines become <br> (traditional_markdown_linebreaks
is off), fenced code becomes <pre><code class="lang-X"> ("lang-auto" without a language),
and links are auto-detected.
"""
from __future__ import annotations

import html

from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False, "xhtmlOut": False})
_md.enable(["table", "strikethrough"])


def _fence(self, tokens, idx, options, env):
    tok = tokens[idx]
    lang = (tok.info or "").strip().split(" ")[0] or "auto"
    return f'<pre><code class="lang-{html.escape(lang, quote=True)}">{html.escape(tok.content)}</code></pre>\n'


def _code_block(self, tokens, idx, options, env):
    return f"<pre><code>{html.escape(tokens[idx].content)}</code></pre>\n"


_md.add_render_rule("fence", _fence)
_md.add_render_rule("code_block", _code_block)


def cook(raw: str) -> str:
    return _md.render(raw or "").strip()


def excerpt(cooked: str, limit: int = 350) -> str:
    """Plain-text excerpt of cooked HTML (cards' bio_excerpt, inbox excerpts)."""
    import re

    text = html.unescape(re.sub(r"<[^>]+>", "", cooked)).strip()
    return text if len(text) <= limit else text[:limit] + "…"
