"""The encrypted attachments story of test_encrypted_files.py the other way round: alice sends from
Firefox, bob reads, sees the screenshot and saves the PDF in Chromium, and replies from Chromium.
(Not in the real-forum pass: the other direction covers the subfolder.)"""
from __future__ import annotations

import pytest

from .test_encrypted_files import *  # noqa: F401,F403 (the story's steps and fixtures, run in this module)
from .test_encrypted_files import _needs_png, _ordered  # noqa: F401 (autouse; a leading underscore is not exported by *)

pytestmark = [pytest.mark.e2e, pytest.mark.firefox]
SENDER_BROWSER = "firefox"
