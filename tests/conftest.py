"""Shared pytest configuration.

Hypothesis profiles: "ci" (selected when the CI environment variable is set, as CI does) runs a
few thousand examples per property; "dev" is quicker for local runs. Choose explicitly with
HYPOTHESIS_PROFILE=ci|dev.
"""

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.standin.fixtures"]

REPO_DIR = Path(__file__).resolve().parent.parent

settings.register_profile("ci", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


def shared_dir() -> Path:
    """../shared next to the repository (as laid out for CI), or ENCRYPT_SHARED_DIR."""
    return Path(os.environ.get("ENCRYPT_SHARED_DIR") or REPO_DIR.parent / "shared")
