"""The search index (pycore.engine.search): ranking, every word required, the last word as a
prefix, titles, replacing an edited post, snippets as segments; and a property: every result
holds every word of the query."""
from hypothesis import given, settings
from hypothesis import strategies as S

from pycore.engine.search import MAX_TERM, SearchIndex, snippet, terms


def index() -> SearchIndex:
    ix = SearchIndex()
    ix.set_title("https://a.example", 1, "Dinner plans")
    ix.add("https://a.example", 1, "first", author="alice", created_at=100, text="Saturday at 8? Bring the wine.")
    ix.add("https://a.example", 1, "11", author="bob", created_at=200, text="Yes! I will bring wine, wine and cheese.")
    ix.set_title("https://b.example", 7, "Quarterly report")
    ix.add("https://b.example", 7, "first", author="carol", created_at=300, text="The report is due on Friday.")
    ix.add("https://b.example", 7, "31", author="alice", created_at=400, text="Draft attached; no wine involved.")
    return ix


def found(results):
    return [(r["origin"][8], r["topic_id"], r["post_id"]) for r in results]


def test_terms_fold_case_and_width():
    assert terms("Élan ÉLAN élan") == ["élan"] * 3
    assert terms("ｗｉｎｅ, Wine!") == ["wine", "wine"]
    assert terms("x" * 100) == ["x" * MAX_TERM]


def test_ranking_needs_every_word_and_prefers_frequent_matches():
    ix = index()
    # bob's post says it twice; of the others the shorter post ranks first (BM25 length norm)
    assert found(ix.query("wine")) == [("a", 1, "11"), ("b", 7, "31"), ("a", 1, "first")]
    assert found(ix.query("wine cheese")) == [("a", 1, "11")]
    assert ix.query("wine pineapple") == []
    assert ix.query("") == [] and ix.query("   ") == []


def test_the_last_word_matches_as_a_prefix_while_typing():
    ix = index()
    assert found(ix.query("chee")) == [("a", 1, "11")]
    assert found(ix.query("chee ")) == []          # a finished word must match whole
    assert found(ix.query("rep")) == [("b", 7, "first")]


def test_a_title_finds_its_conversation_once():
    ix = index()
    got = ix.query("dinner")
    assert found(got) == [("a", 1, "first")] and got[0]["title"] == "Dinner plans"
    # a title word with a body word: the posts holding the body word
    assert found(ix.query("dinner cheese")) == [("a", 1, "11")]
    ix.set_title("https://a.example", 1, "Lunch plans")
    assert ix.query("dinner") == [] and found(ix.query("lunch")) == [("a", 1, "first")]


def test_an_edited_post_replaces_its_words():
    ix = index()
    assert ix.add("https://a.example", 1, "11", author="bob", created_at=200, text="Yes! I will bring wine, wine and cheese.") is False
    assert ix.add("https://a.example", 1, "11", author="bob", created_at=200, text="I will bring bread.") is True
    assert found(ix.query("cheese")) == [] and found(ix.query("bread")) == [("a", 1, "11")]
    assert ix.topic_posts("https://a.example", 1)["11"] == ["bob", 200, "I will bring bread."]


def test_snippets_are_segments_around_the_first_match():
    text = "a " * 200 + "the Secret word " + "b " * 200
    segs = snippet(text, ["secret"])
    assert segs[0] == ["…", False] and segs[-1] == ["…", False]
    assert ["Secret", True] in segs and sum(len(s) for s, _ in segs) <= 170
    assert snippet("no match here", ["zzz"]) == [["no match here", False]]
    assert snippet("Wine and wine", ["wi"], prefix_last=True) == [["Wine", True], [" and ", False], ["wine", True]]


@settings(max_examples=60, deadline=None)
@given(S.lists(S.text(S.sampled_from("abcdeé XY"), min_size=1, max_size=30), min_size=1, max_size=12),
       S.text(S.sampled_from("abcé X"), min_size=1, max_size=8))
def test_every_result_holds_every_query_word(bodies, q):
    ix = SearchIndex()
    for i, b in enumerate(bodies):
        ix.add("https://a.example", 1 + i % 3, str(i), author="u", created_at=i, text=b)
    words = terms(q)
    prefix = not q[-1:].isspace()
    for r in ix.query(q, limit=50):
        have = terms(ix.docs[(r["origin"], r["topic_id"], str(r["post_id"]))]["text"])
        for j, w in enumerate(words):
            assert w in have or (prefix and j == len(words) - 1 and any(h.startswith(w) for h in have))
