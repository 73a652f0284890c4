from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from types import FrameType

import pytest

pytest_plugins = ["tests.fixtures_pg", "tests.fixtures_rig"]


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM stops the session as Ctrl-C does: the fixtures' teardowns run, so no Asterisk,
    SIPp phone or service is left behind (scripts/test.sh stops the rig's session this way when
    a check fails meanwhile; Python's default would end at once and leave them running)."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


# tryfirst: before the mark plugin applies ``-m`` in its own hook of the same name.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test on the rig is marked ``rig`` (it asks for the rig, or lives in a *_rig.py
    module): scripts/test.sh runs ``-m rig`` and ``-m "not rig"`` as two sessions side by
    side, since the rig is one Asterisk on fixed ports and its tests mostly wait for calls."""
    for item in items:
        name = item.path.name
        if (
            "rig" in getattr(item, "fixturenames", ())
            or name.endswith("_rig.py")
            or name == "test_rig.py"
        ):
            item.add_marker(pytest.mark.rig)


@pytest.fixture(scope="module", autouse=True)
def no_service_left_behind() -> Iterator[None]:
    """A `callcenter serve` a test module left running (a cleanup that failed half-way) is
    stopped when the module ends: it would otherwise act on every later test's PBX."""
    # Imported here: at conftest import it would load tests.fixtures_pg before pytest can
    # rewrite its asserts as a plugin.
    from tests.service_proc import RUNNING

    yield
    for service in list(RUNNING):
        logging.getLogger(__name__).warning("stopping a service left running: %s", service.config)
        service.kill()
