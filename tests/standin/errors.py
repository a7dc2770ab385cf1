"""Discourse's JSON error answers (lib/json_error.rb, ApplicationController#rescue_discourse_actions)."""
from __future__ import annotations


class ApiError(Exception):
    """An HTTP answer other than success: status, JSON body and extra headers."""

    def __init__(self, status: int, body, headers: dict | None = None):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def error(status: int, message: str, error_type: str | None = None, extras: dict | None = None) -> ApiError:
    """render_json_error: `errors`, plus `error_type` and `extras` only when given."""
    body: dict = {"errors": [message]}
    if error_type:
        body["error_type"] = error_type
    if extras:
        body["extras"] = extras
    return ApiError(status, body)


def not_found() -> ApiError:
    return error(404, "The requested URL or resource could not be found.", "not_found")


def invalid_access() -> ApiError:
    return error(403, "You are not permitted to view the requested resource.", "invalid_access")


def not_logged_in() -> ApiError:
    return error(403, "You need to be logged in to do that.", "not_logged_in")


def invalid_parameters(name: str) -> ApiError:
    """Discourse::InvalidParameters: 400 with server.en.yml's invalid_params text."""
    return error(400, f"You supplied invalid parameters to the request: {name}", "invalid_parameters")


def param_missing(name: str) -> ApiError:
    """ActionController::ParameterMissing: 400 with the message only."""
    return ApiError(400, {"errors": [f"param is missing or the value is empty: {name}"]})


def create_post_error(messages: list[str], action: str = "create_post") -> ApiError:
    """NewPostResult failure: 422 {"action", "errors"} without error_type."""
    return ApiError(422, {"action": action, "errors": messages})
