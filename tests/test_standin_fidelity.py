"""Contract tests against Discourse's own frontend fixtures and serializers: the stand-in's JSON
has the keys and JSON types of the shape table in docs/DISCOURSE-FIDELITY.md ("JSON shapes"),
which names the Discourse source (file and version) of every row. The table is the single
source: this test parses it."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "DISCOURSE-FIDELITY.md"
PW = "pw-123456"
TYPES = {"str": (str,), "int": (int,), "num": (int, float), "bool": (bool,), "null": (type(None),),
         "arr": (list,), "obj": (dict,)}
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*`([^`]+)`\s*\|\s*`([^`]+)`\s*\|\s*(yes|no)\s*\|\s*(.+?)\s*\|\s*$")


def load_shapes() -> dict[str, list[tuple[str, list[str], bool]]]:
    text = DOC.read_text("utf-8")
    section = text.split("## JSON shapes", 1)[1].split("\n## ", 1)[0]
    shapes: dict[str, list] = {}
    for line in section.splitlines():
        m = ROW.match(line)
        if m:
            shape, key, typ, req, source = m.groups()
            types = typ.split("/")
            assert all(t in TYPES for t in types), f"unknown type in {line!r}"
            assert "@" in source or "idx:" in source or ".rb" in source or ".gjs" in source, f"no source in {line!r}"
            shapes.setdefault(shape, []).append((key, types, req == "yes"))
    return shapes


def _is(value, types) -> bool:
    for t in types:
        if t in ("int", "num") and isinstance(value, bool):
            continue
        if isinstance(value, TYPES[t]):
            return True
    return False


def resolve(root, path: str) -> list:
    """Objects at `path` below a response: "a.b" follows keys, "b[]" every element of list b."""
    objs = [root]
    for part in path.split(".")[1:]:
        many = part.endswith("[]")
        name = part[:-2] if many else part
        nxt = []
        for o in objs:
            v = o.get(name) if isinstance(o, dict) else None
            if v is None:
                continue
            nxt.extend(v if many else [v])
        objs = nxt
    return objs


def check(shapes, responses: dict) -> list[str]:
    """Every shape of the table against the responses; returns the problems found."""
    problems = []
    for shape, keys in shapes.items():
        root = responses[shape.split(".")[0]]
        # a list response (the topic view's posts for "post") is checked element by element
        objs = [o for r in (root if isinstance(root, list) else [root]) for o in resolve(r, shape)]
        if not objs:
            problems.append(f"{shape}: nothing at this path")
        for i, obj in enumerate(objs):
            for key, types, required in keys:
                if key not in obj:
                    if required:
                        problems.append(f"{shape}[{i}]: missing {key!r}")
                elif not _is(obj[key], types):
                    problems.append(f"{shape}[{i}].{key}: {type(obj[key]).__name__} is not {'/'.join(types)}")
    return problems


@pytest.fixture(scope="module")
def shapes():
    s = load_shapes()
    assert len(s) >= 20 and sum(len(v) for v in s.values()) >= 200
    return s


@pytest.fixture
def responses(standin):
    standin.settings.update(pm_page_size=2, rate_limit_create_post=0, rate_limit_create_topic=0)
    for name in ("alice", "bob", "carol"):
        standin.create_user(name, PW, trust_level=1, age_days=30)
    standin.create_group("helpers", ["carol"], messageable_level=99)
    standin.set_bio("bob", "bob's **key**")
    a, b = standin.client("alice"), standin.client("bob")
    older = a.create_pm("bob", "An older message", "The first of several messages").json()
    first = a.create_pm("bob,helpers", "Contract test", "A body that is long enough").json()
    tid = first["topic_id"]
    b.reply(tid, "and a reply to it", reply_to_post_number=1)
    a.post(f"/t/{tid}/invite.json", {"user": "carol"})            # a small-action post
    out = {
        "topic": a.get(f"/t/{tid}.json").json(),
        "pm_list": b.get("/topics/private-messages/bob.json").json(),
        "user_show": a.get("/u/bob.json").json(),
        "current_user": a.get("/session/current.json").json(),
        "create_post": b.reply(older["topic_id"], "a bare reply to the older one").json(),
        "create_post_nested": b.reply(older["topic_id"], "a nested reply to the older one", nested_post="true").json(),
        "create_post_error": a.create_pm("bob", "x", "too short").json(),
        "draft_save": a.post("/drafts.json", {"draft_key": "new_private_message", "data": "{}", "sequence": 0}).json(),
        "draft_show": a.get("/drafts/new_private_message.json").json(),
    }
    out["post"] = out["topic"]["post_stream"]["posts"]
    standin.settings["rate_limit_create_post"] = 5
    b.reply(tid, "this reply starts the five seconds")
    r = b.reply(tid, "this reply comes too soon")
    assert r.status == 429
    out["rate_limit_error"] = r.json()
    return out


def test_responses_have_discourse_shapes(shapes, responses):
    assert check(shapes, responses) == []


def test_the_check_can_fail(shapes, responses):
    """A missing required key or a wrong type is reported."""
    broken = copy.deepcopy(responses)
    del broken["topic"]["details"]["allowed_users"]
    broken["pm_list"]["topic_list"]["topics"][0]["posts_count"] = "2"
    broken["current_user"]["current_user"]["admin"] = 0
    broken["post"][0]["cooked"] = None
    problems = check(shapes, broken)
    assert any("missing 'allowed_users'" in p for p in problems)
    assert any("posts_count: str is not int" in p for p in problems)
    assert any("admin: int is not bool" in p for p in problems)
    assert any("post[0].cooked: NoneType is not str" in p for p in problems)


def test_conditional_keys_appear_when_they_should(responses):
    """Optional rows of the table: present in the situations Discourse emits them."""
    posts = responses["topic"]["post_stream"]["posts"]
    assert posts[1]["reply_to_user"]["username"] == "alice" and "reply_to_user" not in posts[0]
    assert posts[2]["action_code"] == "invited_user" and posts[2]["action_code_who"] == "carol"
    assert responses["pm_list"]["topic_list"]["more_topics_url"].endswith("?page=1")
    assert responses["user_show"]["user"]["bio_raw"] == "bob's **key**"
    assert responses["topic"]["details"]["can_create_post"] is True


def test_every_test_the_doc_names_exists():
    """docs/DISCOURSE-FIDELITY.md names the test covering each behaviour: those tests exist."""
    text = DOC.read_text("utf-8")
    tests_dir = Path(__file__).resolve().parent
    named = set(re.findall(r"(test_standin_\w+\.py)::(test_\w+)", text))
    assert len(named) >= 30
    assert not re.search(r"(?<![\w.])::test_", text), "a test reference without its module"
    gone = [f"{m}::{t}" for m, t in sorted(named) if f"def {t}(" not in (tests_dir / m).read_text("utf-8")]
    assert gone == []
