from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.fixtures_pg", "tests.fixtures_rig"]


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
