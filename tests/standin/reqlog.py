"""WSGI middleware recording every request the stand-in receives.

It sits outside Flask so nothing escapes it: unknown paths, CSRF failures, malformed bodies and
requests that crash a handler are all logged before any routing happens.
"""
from __future__ import annotations

import io
import threading
import time


class RequestLog:
    def __init__(self):
        self._lock = threading.Lock()
        self._entries: list[dict] = []

    def append(self, entry: dict) -> None:
        with self._lock:
            self._entries.append(entry)

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class LoggingMiddleware:
    def __init__(self, app, log: RequestLog, base_path=lambda: ""):
        self.app = app
        self.log = log
        self.base_path = base_path

    def __call__(self, environ, start_response):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        stream = environ.get("wsgi.input")
        if length > 0 and stream is not None:
            body = stream.read(length)
        elif environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" and stream is not None:
            body = stream.read()
        else:
            body = b""
        # Give the app a fresh stream holding exactly what we consumed.
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        headers = {}
        for k, v in environ.items():
            if k.startswith("HTTP_"):
                headers[k[5:].replace("_", "-").title()] = v
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        # PEP 3333 hands PATH_INFO over percent-decoded as latin-1; undo that to get UTF-8.
        path = environ.get("PATH_INFO", "").encode("latin-1", "replace").decode("utf-8", "replace")
        base = (self.base_path() or "").rstrip("/")
        app_path = path[len(base):] or "/" if base and (path == base or path.startswith(base + "/")) else path
        entry = {
            "time": time.time(),
            "method": environ.get("REQUEST_METHOD", ""),
            "path": path,
            "app_path": app_path,      # the path below the subfolder of a subfolder install
            "raw_uri": environ.get("RAW_URI") or environ.get("REQUEST_URI") or "",
            "query": environ.get("QUERY_STRING", ""),
            "headers": headers,
            "body": body.decode("utf-8", "replace"),
            "body_bytes": body,
            "status": None,
        }
        self.log.append(entry)

        def _start(status, hdrs, exc_info=None):
            entry["status"] = int(status.split(" ", 1)[0])
            return start_response(status, hdrs, exc_info)

        return self.app(environ, _start)
