"""Fixtures of the integration tier: daemons that are always cleaned up, sipp work directories.

``daemons`` (one per test module, shared by its tests: starting pbx takes about a second) and
``fresh_daemons`` (per test, for tests that kill or restart it) both return a factory
``make(name, peers, general=None, **options) -> Daemon`` that starts the daemon. Every daemon is
stopped at teardown, and when a test fails the tail of each live daemon's output is attached to
the report.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import pytest

from test.integration.daemon import Daemon, Options

_live: list[Daemon] = []

#: The ``sipp_dir`` fixture: ``sipp_dir("label")`` makes a fresh directory for one sipp run.
SippDir = Callable[[str], Path]


class DaemonFactory(Protocol):
    def __call__(
        self,
        name: str,
        peers: Mapping[str, Options],
        general: Options | None = None,
        **options: Any,
    ) -> Daemon: ...


def _factory(base: Callable[[str], Path]) -> tuple[DaemonFactory, list[Daemon]]:
    started: list[Daemon] = []

    def make(
        name: str, peers: Mapping[str, Options], general: Options | None = None, **options: Any
    ) -> Daemon:
        daemon = Daemon(base(name), peers, general, **options)
        started.append(daemon)
        _live.append(daemon)
        daemon.start()
        return daemon

    return make, started


def _close(started: list[Daemon]) -> None:
    for daemon in started:
        daemon.close()
        if daemon in _live:
            _live.remove(daemon)


@pytest.fixture(scope="module")
def daemons(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonFactory]:
    make, started = _factory(lambda name: tmp_path_factory.mktemp(name))
    yield make
    _close(started)


@pytest.fixture
def fresh_daemons(tmp_path: Path) -> Iterator[DaemonFactory]:
    make, started = _factory(lambda name: tmp_path / name)
    yield make
    _close(started)


@pytest.fixture
def sipp_dir(tmp_path: Path) -> SippDir:
    """``sipp_dir("register")`` -> a new directory for one sipp run's traces."""
    counter = iter(range(1, 1000))

    def make(label: str) -> Path:
        path = tmp_path / f"sipp-{next(counter):02d}-{label}"
        path.mkdir()
        return path

    return make


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for daemon in _live:
            report.sections.append((f"pbx {daemon.confdir}", daemon.describe(80)))
    return report
