"""docker-compose.yml cannot run here (no Docker engine), so check that it agrees with the repo."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from callcenter.cli import example_secrets_in_use
from callcenter.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]


def asterisk_conf(path: Path) -> dict[str, dict[str, str]]:
    """Sections of an Asterisk .conf file (``key = value`` and ``key => value``)."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if match := re.fullmatch(r"\[([^\]]+)\].*", line):
            current = sections.setdefault(match.group(1), {})
        elif "=" in line:
            key, _, value = line.partition("=")
            current[key.strip()] = value.lstrip(">").strip()
    return sections


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_services_and_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"asterisk", "postgres", "callcenter"}
    for name, service in services.items():
        assert service["healthcheck"]["test"], f"{name} has no health check"
    depends = services["callcenter"]["depends_on"]
    assert all(depends[name]["condition"] == "service_healthy" for name in ("asterisk", "postgres"))


def test_every_file_it_names_exists(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            assert (ROOT / build["context"]).is_dir(), name
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source}"
    asterisk_image = (ROOT / "docker/asterisk.Dockerfile").read_text(encoding="utf-8")
    assert "FROM debian:sid-slim" in asterisk_image and "asterisk-modules" in asterisk_image
    service_image = (ROOT / "docker/callcenter.Dockerfile").read_text(encoding="utf-8")
    for copied in re.findall(r"^COPY (.+) \S+$", service_image, re.M):
        assert all((ROOT / source).exists() for source in copied.split()), copied


def test_the_service_image_has_no_config_and_installs_the_hashed_lock() -> None:
    image = (ROOT / "docker/callcenter.Dockerfile").read_text(encoding="utf-8")
    instructions = [line for line in image.splitlines() if not line.startswith("#")]
    text = "\n".join(instructions)
    # The operator's own configuration is mounted or given in the environment.
    assert "COPY config" not in text and "example" not in text
    assert "ENV CALLCENTER_CONFIG=/etc/callcenter/callcenter.toml" in text
    assert 'CMD ["callcenter", "serve"]' in text
    assert "pip install --require-hashes -r requirements/runtime.lock" in text
    assert "pip install --no-deps --no-build-isolation ." in text


def _host_file(service: dict[str, Any], target: str) -> Path:
    """The repository file a service mounts at ``target``."""
    for volume in service.get("volumes", []):
        source, mounted = volume.split(":")[:2]
        if mounted == target:
            return ROOT / str(source)
    raise AssertionError(f"nothing is mounted at {target}")


def test_service_environment_is_valid_configuration(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = compose["services"]["callcenter"]["environment"]
    for key, value in environment.items():
        assert key.startswith("CALLCENTER_"), key
        if key != "CALLCENTER_CONFIG":
            monkeypatch.setenv(key, str(value))
    config_file = _host_file(compose["services"]["callcenter"], environment["CALLCENTER_CONFIG"])
    settings, _ = load_settings(config_file)
    assert settings.http.port == int(environment["CALLCENTER_HTTP__PORT"])
    healthcheck = " ".join(compose["services"]["callcenter"]["healthcheck"]["test"])
    assert f"127.0.0.1:{settings.http.port}/healthz" in healthcheck


def test_the_example_stack_runs_its_example_secrets_only_with_demo(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    service = compose["services"]["callcenter"]
    for key, value in service["environment"].items():
        if key != "CALLCENTER_CONFIG":
            monkeypatch.setenv(key, str(value))
    settings, _ = load_settings(_host_file(service, service["environment"]["CALLCENTER_CONFIG"]))
    assert example_secrets_in_use(settings)  # the rig's AMI secret, change-me
    assert service["command"] == ["callcenter", "serve", "--demo"]


def test_pbx_and_database_agree_with_asterisk_and_postgres(compose: dict[str, Any]) -> None:
    services = compose["services"]
    pbx = json.loads(services["callcenter"]["environment"]["CALLCENTER_PBX"])[0]
    manager = asterisk_conf(ROOT / "config/asterisk/manager.conf")
    assert int(manager["general"]["port"]) == pbx["port"]
    assert manager["general"]["bindaddr"] == pbx["host"]
    assert manager[pbx["username"]]["secret"] == pbx["secret"]
    url = make_url(services["callcenter"]["environment"]["CALLCENTER_DATABASE__URL"])
    postgres = services["postgres"]["environment"]
    assert url.username == postgres["POSTGRES_USER"]
    assert url.password == postgres["POSTGRES_PASSWORD"]
    assert url.database == postgres["POSTGRES_DB"]
    assert url.port == int(postgres["PGPORT"])
    assert str(url.port) in services["postgres"]["healthcheck"]["test"]


def test_the_service_reads_the_queue_log_asterisk_writes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    (pbx,) = json.loads(services["callcenter"]["environment"]["CALLCENTER_PBX"])
    queue_log = Path(pbx["queue_log"])

    def mount(service: str) -> str:
        for volume in services[service].get("volumes", []):
            source, target = volume.split(":")[:2]
            if queue_log.is_relative_to(target):
                return str(source)
        raise AssertionError(f"{service} does not mount {queue_log.parent}")

    assert mount("asterisk") == mount("callcenter")
    assert mount("asterisk") in compose["volumes"]
    logger = (ROOT / "config/asterisk/logger.conf").read_text(encoding="utf-8")
    assert re.search(r"^queue_log\s*=\s*yes", logger, re.M)
