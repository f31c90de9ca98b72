"""Whole-suite settings.

trial's ``TestCase.mktemp()`` makes its directories under the current working directory, which
under pytest is the repository root: point it at one temporary tree per test session instead,
removed when the session ends, so tests never write into the checkout.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
from twisted.trial import unittest

_ROOT = tempfile.mkdtemp(prefix="pbx-tests-")


def _mktemp(self: unittest.SynchronousTestCase) -> str:
    """A fresh path (not created) unique to the test, as trial's own mktemp() returns."""
    parent = tempfile.mkdtemp(prefix=self.id().rsplit(".", 1)[-1][:40] + "-", dir=_ROOT)
    return os.path.join(parent, "temp")


unittest.SynchronousTestCase.mktemp = _mktemp  # type: ignore[method-assign]


@pytest.fixture(scope="session", autouse=True)
def _remove_temporary_tree() -> Iterator[None]:
    yield
    shutil.rmtree(_ROOT, ignore_errors=True)
