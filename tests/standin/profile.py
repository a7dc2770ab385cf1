"""Settings profiles: a JSON object of stand-in settings merged into every stand-in a test run
starts (env E2E_STANDIN_SETTINGS = path of the file), e.g. tests/e2e/profiles/real-forum.json.
A test's own settings win over the profile: the profile changes the defaults, not what a test
deliberately sets."""
from __future__ import annotations

import json
import os
from pathlib import Path

ENV = "E2E_STANDIN_SETTINGS"


def load_settings_file(path: str | os.PathLike) -> dict:
    data = json.loads(Path(path).read_text("utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a settings profile must be a JSON object")
    from .forum import DEFAULT_SETTINGS
    unknown = sorted(set(data) - set(DEFAULT_SETTINGS))
    if unknown:
        raise ValueError(f"{path}: unknown stand-in settings {unknown}")
    return data


def profile_settings() -> dict:
    """The profile named by E2E_STANDIN_SETTINGS ({} when unset)."""
    path = os.environ.get(ENV, "").strip()
    return load_settings_file(path) if path else {}


def with_profile(settings: dict | None) -> dict:
    """Profile settings overlaid with a test's own settings."""
    return {**profile_settings(), **(settings or {})}
