"""Selenium helpers for pages served by the stand-in (no Selenium import needed here)."""
from __future__ import annotations

import time


def browser_login(driver, srv, username: str, path: str = "/") -> None:
    """Log `username` in without the form and open `path`. Cookies are per host (not per port),
    so earlier stand-ins' cookies on 127.0.0.1 are dropped first."""
    driver.get(srv.url + "/session/csrf.json")
    driver.delete_all_cookies()
    driver.add_cookie(srv.login_cookie(username))
    driver.get(page_url(srv, path))


def page_url(srv, path: str) -> str:
    """srv.url + path, like Discourse's getURL: a path already below the subfolder is kept."""
    base = srv.base_path
    if base and (path == base or path.startswith(base + "/")):
        return srv.origin + path
    return srv.url + path


def wait_route(driver, route: str | None = None, timeout: float = 20.0) -> str:
    """Wait until the SPA finished rendering a route (optionally a given one); returns its name.
    Route names: home, login, new-message, topic, user, user-messages, user-messages-sent,
    user-messages-archive, user-messages-new, user-messages-unread, user-messages-group,
    user-preferences, not-found."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = driver.execute_script(
                "return document.body && document.body.dataset.standinReady === '1' ? document.body.dataset.standinRoute : null")
        except Exception:  # page in the middle of loading
            last = None
        if last and (route is None or last == route):
            return last
        time.sleep(0.05)
    raise TimeoutError(f"stand-in route {route!r} not rendered within {timeout}s (last: {last!r})")
