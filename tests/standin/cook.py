"""Markdown -> "cooked" HTML, shaped like Discourse's output.

Discourse cooks with markdown-it; its defaults that matter here: raw HTML is not passed
through (the sanitizer drops/escapes it), single newlines become <br> (traditional_markdown_linebreaks
is off), and fenced code follows discourse-markdown-it's code feature: "text", "pre" and "plain"
become <pre><code class="lang-plaintext">, no language is the default_code_lang "auto"
(<code class="lang-auto">), any other language X is <pre data-code-wrap="X"><code class="lang-X">.
"""
from __future__ import annotations

import html

from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False, "xhtmlOut": False})
_md.enable(["table", "strikethrough"])


TEXT_CODE_CLASSES = ("text", "pre", "plain")
DEFAULT_CODE_LANG = "auto"


def _fence(self, tokens, idx, options, env):
    tok = tokens[idx]
    lang = (tok.info or "").strip().split(" ")[0] or DEFAULT_CODE_LANG
    body = html.escape(tok.content)
    if lang in TEXT_CODE_CLASSES:
        return f'<pre><code class="lang-plaintext">{body}</code></pre>\n'
    if lang == "auto":
        return f'<pre><code class="lang-auto">{body}</code></pre>\n'
    q = html.escape(lang, quote=True)
    return f'<pre data-code-wrap="{q}"><code class="lang-{q}">{body}</code></pre>\n'


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
