"""One typed settings object: a TOML file, then ``CALLCENTER_*`` environment overrides.

Environment variables win over the file so that containers and CI can change one value
(``CALLCENTER_DATABASE__URL``, ``CALLCENTER_HTTP__PORT``...) without editing the file.
Nested keys use a double underscore; the PBX list is given as JSON in ``CALLCENTER_PBX``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "CALLCENTER_"
DEFAULT_CONFIG_PATH = Path("config/callcenter.toml")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/callcenter.db"
SUPPORTED_DATABASE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")

class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PbxSettings(_Section):
    """One Asterisk PBX reached over AMI."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = Field(min_length=1)
    secret: SecretStr
    ping_interval: float = Field(default=10.0, gt=0)
    action_timeout: float = Field(default=5.0, gt=0)
    reconnect_max_delay: float = Field(default=30.0, gt=0)

    @field_validator("secret")
    @classmethod
    def _secret_not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value


class DatabaseSettings(_Section):
    # The URL can carry a password, so it is a secret: never logged whole.
    url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: SecretStr) -> SecretStr:
        url = normalise_database_url(value.get_secret_value())
        scheme = url.split(":", 1)[0]
        if scheme not in SUPPORTED_DATABASE_SCHEMES:
            raise ValueError(
                f"unsupported scheme {scheme!r}; use one of {', '.join(SUPPORTED_DATABASE_SCHEMES)}"
            )
        return SecretStr(url)


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)


class FastAgiSettings(_Section):
    # Loopback by default: FastAGI has no authentication of its own.
    host: str = "127.0.0.1"
    port: int = Field(default=4573, ge=1, le=65535)


class LiveSettings(_Section):
    """The live model and how often it is checked against the PBX."""

    # Seconds between full comparisons with QueueStatus while connected (self-healing).
    resync_interval: float = Field(default=60.0, gt=0)
    # Rolling window of the live service level, ASA, AHT and abandon rate.
    window_minutes: float = Field(default=15.0, gt=0)
    # Used until a queue's own `servicelevel` from queues.conf is known.
    service_level_seconds: int = Field(default=20, ge=1)
    # Callers who hang up sooner than this are left out of the abandon rate.
    short_abandon_seconds: float = Field(default=5.0, ge=0)
    # Channel variables with this prefix carry the IVR's data to the pop and the record.
    ivr_variable_prefix: str = Field(default="CC_", min_length=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    pbx: list[PbxSettings] = Field(default_factory=list)
    database: DatabaseSettings = DatabaseSettings()
    http: HttpSettings = HttpSettings()
    fastagi: FastAgiSettings = FastAgiSettings()
    live: LiveSettings = LiveSettings()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("pbx")
    @classmethod
    def _unique_pbx_names(cls, value: list[PbxSettings]) -> list[PbxSettings]:
        names = [p.name for p in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate PBX name(s): {', '.join(duplicates)}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file arrives as init values; the environment must override it.
        return (env_settings, init_settings)

    def secrets(self) -> list[str]:
        """Every secret value, so the log filter can mask them."""
        values = [p.secret.get_secret_value() for p in self.pbx]
        password = _password_in_url(self.database.url.get_secret_value())
        if password:
            values.append(password)
        return [v for v in values if v]


def normalise_database_url(url: str) -> str:
    """Accept the usual spellings and pick the async driver we ship."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def _password_in_url(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    try:
        password = make_url(url).password
        return None if password is None else str(password)
    except Exception:
        return None


@dataclass(frozen=True)
class ConfigProblem:
    """One mistake in the configuration, named by where it is and what is wrong."""

    source: str
    key: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.source}: {self.key}" if self.key else self.source
        return f"{where}: {self.problem}"


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def resolve_config_path(explicit: Path | None) -> tuple[Path | None, bool]:
    """The file to read and whether the user named it (a named file must exist)."""
    if explicit is not None:
        return explicit, True
    from_env = os.environ.get(ENV_PREFIX + "CONFIG")
    if from_env:
        return Path(from_env), True
    return (DEFAULT_CONFIG_PATH, False) if DEFAULT_CONFIG_PATH.exists() else (None, False)


def load_settings(explicit: Path | None = None) -> tuple[Settings, Path | None]:
    """Read and validate the configuration; raise ConfigError listing every problem."""
    path, named = resolve_config_path(explicit)
    data = _read_toml(path, named) if path is not None else {}
    try:
        return Settings(**data), path
    except ValidationError as exc:
        raise ConfigError(_problems_from(exc, path)) from None


def _read_toml(path: Path, named: bool) -> dict[str, Any]:
    source = str(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        if named:
            raise ConfigError([ConfigProblem(source, "", "file not found")]) from None
        return {}
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message names line and column, never the value.
        raise ConfigError([ConfigProblem(source, "", f"not valid TOML: {exc}")]) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem(source, "", f"cannot read: {exc.strerror}")]) from None


def _problems_from(exc: ValidationError, path: Path | None) -> list[ConfigProblem]:
    env_keys = {k[len(ENV_PREFIX) :].lower() for k in os.environ if k.startswith(ENV_PREFIX)}
    problems = []
    # include_input=False: a rejected value may be a secret.
    for error in exc.errors(include_input=False, include_url=False):
        key = _dotted(error["loc"])
        loc = [str(part).lower() for part in error["loc"]]
        overridden = next(
            (k for k in sorted(env_keys) if loc[: len(k.split("__"))] == k.split("__")), None
        )
        if overridden is not None:
            source = f"environment {ENV_PREFIX}{overridden.upper()}"
        else:
            source = str(path) if path is not None else "built-in defaults"
        problems.append(ConfigProblem(source, key, _plain_message(error["msg"])))
    return problems


def _dotted(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _plain_message(msg: str) -> str:
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return "unknown key" if msg == "Extra inputs are not permitted" else msg
