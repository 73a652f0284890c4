"""Schemathesis against a running `callcenter serve`: generated requests for every /api
operation of the OpenAPI description, logged in as an admin; no answer may be a 500, and
every answer must match the schema the route declares."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import Browser, add_user

ST = Path(sys.executable).with_name("st")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    # No PBX: every route must hold without one (the rig's PBX has its own tests).
    process = ServiceProcess(tmp_path_factory.mktemp("fuzz"), pbx=[], log_level="INFO")
    add_user(process.config, "fuzz-admin", "admin", "PJSIP/1001")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_no_route_answers_500_or_off_its_schema(service: ServiceProcess, tmp_path: Path) -> None:
    browser = Browser(service.base_url).login("fuzz-admin")
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.jar)
    command = [
        str(ST),
        "run",
        f"{service.base_url}/api/openapi.json",
        "--checks",
        "not_a_server_error,response_schema_conformance,status_code_conformance",
        "--include-path-regex",
        "^/api/",
        # Logging out would end the fuzzer's own session half-way.
        "--exclude-path",
        "/api/logout",
        "--max-examples",
        "25",
        "--seed",
        "20261201",
        "--phases",
        "examples,coverage,fuzzing",
        "--request-timeout",
        "10",
        # Interfaces (PJSIP/1001) in a path: most generated strings with a "/" cannot be
        # sent as one path segment and are dropped by the generator, not by us.
        "--suppress-health-check",
        "filter_too_much",
        "--max-failures",
        "20",
        "--no-color",
        "--header",
        f"Cookie: {cookie}",
        "--header",
        f"Origin: {service.base_url}",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": ""}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-15000:]
    assert "Traceback" not in service.log_text(), service.log_tail(80)
