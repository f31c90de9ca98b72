"""End-to-end tier: ``PBX_SKIP_SLOW=1`` skips the tests marked ``slow`` (see the Makefile).

CI runs everything; locally the slowest browser tests (those waiting out protocol timers, such
as RFC 7675 consent expiry) can be left out without remembering ``-m "not slow"``.
"""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PBX_SKIP_SLOW", "") in ("", "0"):
        return
    skip = pytest.mark.skip(reason="slow test skipped (PBX_SKIP_SLOW is set)")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)
