"""Full-text search over what this device has read: decrypted conversation titles and posts.

Sans-IO: `SearchIndex` is plain data and pure methods; the engine feeds it the posts it has
verified (`conv.open`, `conv.read`), keeps it sealed at rest one record per conversation
(`inband.search.<origin>.<topic_id>`, in the vault like drafts and conversation metadata) and
answers `search.query` for the inbox only. Nothing of the index leaves the engine except the
results the inbox asked for.

Ranking is BM25 (k1 1.2, b 0.75) over case-folded word tokens; the last word of a query also
matches as a prefix, so results come while the user is still typing it. A title match counts
like a match in each of the conversation's posts, weighted up (`TITLE_WEIGHT`). Snippets are
returned as segments `[text, is_match]`, for the inbox to render with text nodes only.
"""

from __future__ import annotations

import bisect
import heapq
import math
import re
import unicodedata

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERM = 48            # longer "words" (keys, hashes) are cut: they bloat the index, nobody types them
MAX_QUERY_TERMS = 12
MAX_RESULTS = 50
TITLE_WEIGHT = 2.0
SNIPPET_CHARS = 160
_K1, _B = 1.2, 0.75


def terms(text: str) -> list[str]:
    """The search terms of `text`: word tokens, case-folded, accents kept (NFKC)."""
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    return [w[:MAX_TERM] for w in _WORD.findall(folded)]


class SearchIndex:
    """An inverted index of posts. A document is one post: (origin, topic_id, post_id) with its
    author, time and text; each conversation's title is kept once per topic."""

    def __init__(self):
        self.docs: dict[tuple, dict] = {}          # doc key -> {author, created_at, text, length, order (ties)}
        self.titles: dict[tuple, str] = {}         # (origin, topic_id) -> title
        self.postings: dict[str, dict[tuple, int]] = {}   # term -> {doc key: term frequency}
        self.title_postings: dict[str, set] = {}   # term -> {(origin, topic_id)}
        self.by_topic: dict[tuple, set] = {}       # (origin, topic_id) -> {doc key}
        self._vocab: list[str] | None = None       # sorted terms, rebuilt after a change
        self._norm_cache: dict | None = None       # BM25 length factors, rebuilt after a change
        self._total_length = 0

    # ------------------------------------------------------------------ building
    def set_title(self, origin: str, topic_id: int, title: str | None) -> None:
        topic = (origin, topic_id)
        old = self.titles.get(topic)
        if old == (title or None):
            return
        if old is not None:
            for t in set(terms(old)):
                holders = self.title_postings.get(t)
                if holders is not None:
                    holders.discard(topic)
                    if not holders:
                        del self.title_postings[t]
        if title:
            self.titles[topic] = title
            for t in set(terms(title)):
                self.title_postings.setdefault(t, set()).add(topic)
        else:
            self.titles.pop(topic, None)
        self._vocab = None

    def add(self, origin: str, topic_id: int, post_id, *, author, created_at, text: str) -> bool:
        """Adds or replaces one post; False when it was already indexed with the same text."""
        key = (origin, topic_id, post_id)
        old = self.docs.get(key)
        if old is not None:
            if old["text"] == text and old["author"] == author:
                return False
            self._remove(key)
        words = terms(text)
        counts: dict[str, int] = {}
        for w in words:
            counts[w] = counts.get(w, 0) + 1
        for w, n in counts.items():
            self.postings.setdefault(w, {})[key] = n
        self.docs[key] = {"author": author, "created_at": created_at, "text": text, "length": len(words),
                          "order": (_when(created_at), origin, topic_id, str(post_id))}
        self.by_topic.setdefault((origin, topic_id), set()).add(key)
        self._total_length += len(words)
        self._vocab = self._norm_cache = None
        return True

    def _remove(self, key) -> None:
        old = self.docs.pop(key)
        self.by_topic[(key[0], key[1])].discard(key)
        self._total_length -= old["length"]
        for w in set(terms(old["text"])):
            holders = self.postings.get(w)
            if holders is not None:
                holders.pop(key, None)
                if not holders:
                    del self.postings[w]

    def topic_posts(self, origin: str, topic_id: int) -> dict:
        """The indexed posts of one topic, as stored: {post_id: [author, created_at, text]}."""
        return {str(k[2]): [self.docs[k]["author"], self.docs[k]["created_at"], self.docs[k]["text"]]
                for k in self.by_topic.get((origin, topic_id), ())}

    # ------------------------------------------------------------------ querying
    def _expand(self, term: str, prefix: bool) -> list[str]:
        if not prefix:
            return [term] if term in self.postings or term in self.title_postings else []
        if self._vocab is None:
            self._vocab = sorted(set(self.postings) | set(self.title_postings))
        i = bisect.bisect_left(self._vocab, term)
        out = []
        while i < len(self._vocab) and self._vocab[i].startswith(term) and len(out) < 64:
            out.append(self._vocab[i])
            i += 1
        return out

    def _norms(self) -> dict:
        """Each post's BM25 length factor, recomputed after the index changed."""
        if self._norm_cache is None:
            avg = (self._total_length / len(self.docs)) if self.docs else 1.0
            avg = avg or 1.0
            self._norm_cache = {k: _K1 * (1 - _B + _B * d["length"] / avg) for k, d in self.docs.items()}
        return self._norm_cache

    def _word_terms(self, word: str, prefix: bool) -> tuple[list, list]:
        """([{post: tf} of each term], [{conversations whose title holds it} of each term]) for
        one query word: the word itself, or the words it is a prefix of."""
        body, titles = [], []
        for term in self._expand(word, prefix):
            if self.postings.get(term):
                body.append(self.postings[term])
            if self.title_postings.get(term):
                titles.append(self.title_postings[term])
        return body, titles

    def query(self, text: str, limit: int = 20) -> list[dict]:
        """Posts ranked by relevance to `text`: [{origin, topic_id, post_id, title, author,
        created_at, score, snippet}], at most `limit` (and MAX_RESULTS). Every word must match,
        in the post or in its conversation's title."""
        words = terms(text)
        prefix_last = bool(words) and not text[-1:].isspace() and words[-1] not in words[:-1]
        words = list(dict.fromkeys(words))[:MAX_QUERY_TERMS]
        limit = max(0, min(limit, MAX_RESULTS))
        if not words or not self.docs or not limit:
            return []
        n_docs, norms = len(self.docs), self._norms()
        per_word = [self._word_terms(w, prefix_last and i == len(words) - 1) for i, w in enumerate(words)]

        def size(word):
            body, titles = word
            return sum(len(h) for h in body) + sum(len(self.by_topic.get(t, ())) for ts in titles for t in ts)

        # The rarest word's posts are the candidates; each further word narrows them; only the
        # posts left are scored (a common word alone holds most of the index).
        per_word.sort(key=size)
        candidates = None
        for body, titles in per_word:
            holding = set()
            for holders in body:
                holding.update(holders if candidates is None else candidates.intersection(holders))
            for t in set().union(*titles):
                posts = self.by_topic.get(t, ())
                holding.update(posts if candidates is None else candidates.intersection(posts))
            candidates = holding
            if not candidates:
                return []
        scores = dict.fromkeys(candidates, 0.0)
        in_text: set = set()
        for body, titles in per_word:
            for holders in body:
                idf = math.log(1 + (n_docs - len(holders) + 0.5) / (len(holders) + 0.5)) * (_K1 + 1)
                found = candidates.intersection(holders)
                for k in found:
                    tf = holders[k]
                    scores[k] += idf * tf / (tf + norms[k])
                in_text |= found
            for topics in titles:
                bonus = TITLE_WEIGHT * math.log(1 + (n_docs + 0.5) / (len(topics) + 0.5))
                for t in topics:
                    for k in candidates.intersection(self.by_topic.get(t, ())):
                        scores[k] += bonus
        # a conversation found by its title alone is one result (its earliest post), not all of
        # them; where some of its posts match in their text, those are its results
        title_only = candidates - in_text
        first_of_topic: dict = {}
        if title_only:
            topics_in_text = {(k[0], k[1]) for k in in_text}
            for k in title_only:
                if (k[0], k[1]) in topics_in_text:
                    continue
                best = first_of_topic.get((k[0], k[1]))
                if best is None or self.docs[k]["order"] < self.docs[best]["order"]:
                    first_of_topic[(k[0], k[1])] = k
        hits = list(in_text) + list(first_of_topic.values())
        # the best `limit`, newest first among equal scores: the scores pick them (fast), and the
        # few posts tied with the last one are ordered by time
        docs = self.docs
        top = heapq.nlargest(limit, hits, key=scores.__getitem__)
        if top:
            floor = scores[top[-1]]
            near = [k for k in hits if scores[k] >= floor] if len(top) == limit else top
            top = sorted(near, key=lambda k: (scores[k], docs[k]["order"]), reverse=True)[:limit]
        out = []
        for key in top:
            d = self.docs[key]
            out.append({"origin": key[0], "topic_id": key[1], "post_id": key[2],
                        "title": self.titles.get((key[0], key[1])), "author": d["author"],
                        "created_at": d["created_at"], "score": round(scores[key], 4),
                        "snippet": snippet(d["text"], words, prefix_last)})
        return out


def _when(t) -> str:
    """A post's time as a sortable string (ISO 8601 from posts; numbers in tests sort alike)."""
    return f"{t:020.3f}" if isinstance(t, (int, float)) else str(t or "")


def snippet(text: str, words: list[str], prefix_last: bool = False, width: int = SNIPPET_CHARS) -> list[list]:
    """A window of `text` around its first match, as [[segment, is_match], ...]."""
    spans = []
    last = len(words) - 1
    wanted = set(words)
    stop = len(text)
    for m in _WORD.finditer(text):
        if m.start() >= stop:   # past the window around the first match
            break
        w = unicodedata.normalize("NFKC", m.group()).casefold()[:MAX_TERM]
        if w in wanted or (prefix_last and w.startswith(words[last])):
            if not spans:
                stop = max(0, m.start() - width // 3) + width
            spans.append((m.start(), m.end()))
    if not spans:
        return [[text[:width], False]] if text else []
    start = max(0, spans[0][0] - width // 3)
    end = min(len(text), start + width)
    out, at = [], start
    if start > 0:
        out.append(["…", False])
    for s, e in spans:
        if s < at or s >= end:
            continue
        if s > at:
            out.append([text[at:s], False])
        out.append([text[s:min(e, end)], True])
        at = min(e, end)
    if at < end:
        out.append([text[at:end], False])
    if end < len(text):
        out.append(["…", False])
    return out
