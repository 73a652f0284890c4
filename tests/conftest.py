from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.fixtures_pg", "tests.fixtures_rig"]


# tryfirst: xdist reads the group markers in its own hook of the same name.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test on the rig goes to one xdist worker (`--dist loadgroup` in scripts/test.sh):
    the rig is one Asterisk on fixed ports, started once per worker that asks for it. The
    other tests run beside them in the second worker, which is most of the saving: a rig
    test spends its time waiting for calls, not on the CPU."""
    for item in items:
        if "rig" in getattr(item, "fixturenames", ()) or item.get_closest_marker("rig"):
            item.add_marker(pytest.mark.xdist_group("rig"))


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
