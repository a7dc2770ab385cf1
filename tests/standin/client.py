"""A small HTTP client for tests: cookie jar, CSRF handling, JSON helpers (no extra dependency).

It behaves like the real frontend: reads the CSRF token from /session/csrf.json, sends it as
X-CSRF-Token with X-Requested-With on every non-GET request.
"""
from __future__ import annotations

import http.client
import json
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes
    _json: object = field(default=None, repr=False)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class StandinClient:
    def __init__(self, base_url: str):
        u = urllib.parse.urlsplit(base_url)
        self.host, self.port = u.hostname, u.port
        self.prefix = u.path.rstrip("/")     # a subfolder install's base path ("" at the root)
        self.cookies: dict[str, str] = {}
        self.csrf: str | None = None
        self.xhr = True

    def set_cookie(self, name, value):
        self.cookies[name] = value

    def url_for(self, path: str) -> str:
        """Like Discourse's getURL: prefix the subfolder unless the path already starts with it."""
        if not self.prefix or path == self.prefix or path.startswith(self.prefix + "/") or \
                path.startswith("/__hostile/"):
            return path
        return self.prefix + (path if path.startswith("/") else "/" + path)

    def request(self, method: str, path: str, data=None, json_body=None, headers=None, csrf=True) -> Reply:
        path = self.url_for(path)
        h = {"Accept": "application/json"} if self.xhr else {"Accept": "text/html"}
        if self.xhr:
            h["X-Requested-With"] = "XMLHttpRequest"
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            h["Content-Type"] = "application/json"
        elif data is not None:
            body = (urllib.parse.urlencode(data, doseq=True) if not isinstance(data, (str, bytes)) else data)
            body = body.encode() if isinstance(body, str) else body
            h["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8"
        if method not in ("GET", "HEAD") and csrf:
            if self.csrf is None:
                self.fetch_csrf()
            h["X-CSRF-Token"] = self.csrf
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        h.update(headers or {})
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            raw = r.read()
            for hv in r.headers.get_all("Set-Cookie") or []:
                c = SimpleCookie()
                c.load(hv)
                for k, m in c.items():
                    if m["expires"] and "1970" in m["expires"] or m["max-age"] == "0":
                        self.cookies.pop(k, None)
                    else:
                        self.cookies[k] = m.value
            return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, raw)
        finally:
            conn.close()

    def fetch_csrf(self) -> str:
        self.csrf = self.request("GET", "/session/csrf.json").json()["csrf"]
        return self.csrf

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, data=None, **kw):
        return self.request("POST", path, data=data, **kw)

    def put(self, path, data=None, **kw):
        return self.request("PUT", path, data=data, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def upload(self, data: bytes, filename: str, path: str = "/uploads.json",
               content_type: str = "application/octet-stream", **fields) -> Reply:
        """POST a multipart form with `file` (data, filename) and the other form fields, the way the
        composer (and the extension) upload a file: e.g. upload_type="composer",
        for_private_message="true"."""
        boundary = "----standin" + uuid.uuid4().hex
        parts = []
        for k, v in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
        quoted = filename.replace('"', "%22")
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
                     f"Content-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request("POST", path, data=b"".join(parts),
                            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def login(self, username, password) -> Reply:
        r = self.post("/session", {"login": username, "password": password})
        return r

    # convenience for tests
    def create_pm(self, recipients, title, raw, **extra) -> Reply:
        return self.post("/posts.json", {"archetype": "private_message", "target_recipients": recipients,
                                         "title": title, "raw": raw, **extra})

    def reply(self, topic_id, raw, **extra) -> Reply:
        return self.post("/posts.json", {"topic_id": topic_id, "raw": raw, **extra})
