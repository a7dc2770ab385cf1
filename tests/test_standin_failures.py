"""The stand-in's injected failures (`StandinServer.fail_next`): 5xx answers with Discourse's
error body and dropped connections, for the next N matching requests only, storing nothing."""
import http.client

import pytest

from tests.standin.server import StandinServer


def _pm(c, i):
    return c.post("/posts.json", {"archetype": "private_message", "target_recipients": "alice",
                                  "title": "Failure test topic", "raw": f"A body that is long enough, number {i}."})


def test_fail_next_503_then_success():
    with StandinServer() as srv:
        srv.create_user("alice", "pw-123456789", trust_level=1)
        c = srv.client("alice")
        srv.fail_next("/posts.json", status=503, count=2, method="POST")
        assert c.get("/posts.json").status == 200            # another method is not affected
        for i in range(2):
            r = _pm(c, i)
            assert r.status == 503 and r.json()["error_type"] == "read_only" and r.json()["errors"]
        assert srv.topics() == [] and srv.failures_left() == 0
        r = _pm(c, 2)
        assert r.status == 200 and len(srv.topics()) == 1
        assert [e["status"] for e in srv.requests if e["path"] == "/posts.json" and e["method"] == "POST"] == [503, 503, 200]


def test_fail_next_other_5xx_and_drop():
    with StandinServer() as srv:
        srv.create_user("alice", "pw-123456789", trust_level=1)
        c = srv.client("alice")
        srv.fail_next("/session/current", status=502)
        r = c.get("/session/current.json")
        assert r.status == 502 and r.json()["error_type"] == "server_error"
        srv.fail_next("/session/current.json", drop=True)
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("GET", "/session/current.json")
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            conn.getresponse()
        conn.close()
        assert c.get("/session/current.json").status == 200
        assert [e["status"] for e in srv.requests if e["path"] == "/session/current.json"] == [502, None, 200]
        with pytest.raises(ValueError):
            srv.fail_next("/x", status=404)
