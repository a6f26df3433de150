"""Settings: one frozen dataclass, built once from the environment (and CLI flags) by a pure
function that fails fast naming the bad variable. Nothing else reads `os.environ`."""

from __future__ import annotations

import dataclasses
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files

DEMO_SHOW = str(files("gala").joinpath("shows", "countdown_gala_1111.toml"))


class SettingsError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Settings:
    store_url: str = "sqlite:///gala.db"
    host: str = "127.0.0.1"
    port: int = 8080
    show_files: tuple[str, ...] = (DEMO_SHOW,)
    secret: str | None = None
    node_id: str | None = None
    replay_window: int = 1000
    max_payload_bytes: int = 16 * 1024
    max_viewer_buffer_bytes: int = 512 * 1024
    ping_interval_s: int = 25
    viewer_token_ttl_s: int = 30 * 24 * 3600
    producer_token_ttl_s: int = 12 * 3600
    presence_interval_s: float = 1.0
    demo_wallet_grant_minor: int = 0
    payment_provider: str | None = None
    webhook_secret: str | None = None
    webhook_tolerance_s: int = 300
    log_level: str = "INFO"
    log_format: str = "json"
    drain_timeout_s: int = 10
    demo_budget_minor: int = 0
    grab_taps_per_s: int = 5
    grab_tap_burst: int = 10
    tap_batch_max: int = 1000
    tap_max_wait_ms: int = 1000
    # start on a Redis that does not persist (appendonly no): for tests and benchmarks only
    allow_volatile_redis: bool = False

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """Read `GALA_*` variables; raise `SettingsError` naming the first bad one."""
    base = Settings()
    return Settings(
        store_url=_store_url(env.get("GALA_STORE", base.store_url)),
        host=env.get("GALA_HOST", base.host),
        port=_int(env, "GALA_PORT", base.port, 0, 65535),
        show_files=_paths(env.get("GALA_SHOWS")) or base.show_files,
        secret=env.get("GALA_SECRET") or None,
        node_id=env.get("GALA_NODE_ID") or None,
        replay_window=_int(env, "GALA_REPLAY_WINDOW", base.replay_window, 1, 1_000_000),
        max_payload_bytes=_int(env, "GALA_MAX_PAYLOAD_BYTES", base.max_payload_bytes, 256, 1 << 20),
        demo_wallet_grant_minor=_int(
            env, "GALA_DEMO_WALLET_GRANT_MINOR", base.demo_wallet_grant_minor, 0, 10**12
        ),
        payment_provider=_provider(env.get("GALA_PAYMENT_PROVIDER")),
        webhook_secret=env.get("GALA_WEBHOOK_SECRET") or None,
        webhook_tolerance_s=_int(
            env, "GALA_WEBHOOK_TOLERANCE_S", base.webhook_tolerance_s, 10, 3600
        ),
        max_viewer_buffer_bytes=_int(
            env, "GALA_MAX_VIEWER_BUFFER_BYTES", base.max_viewer_buffer_bytes, 4096, 1 << 30
        ),
        ping_interval_s=_int(env, "GALA_PING_INTERVAL_S", base.ping_interval_s, 1, 300),
        log_level=_log_level(env.get("GALA_LOG_LEVEL", base.log_level)),
        log_format=_choice(env, "GALA_LOG_FORMAT", base.log_format, LOG_FORMATS),
        drain_timeout_s=_int(env, "GALA_DRAIN_TIMEOUT_S", base.drain_timeout_s, 1, 600),
        demo_budget_minor=_int(env, "GALA_DEMO_BUDGET_MINOR", base.demo_budget_minor, 0, 10**12),
        grab_taps_per_s=_int(env, "GALA_GRAB_TAPS_PER_S", base.grab_taps_per_s, 1, 10_000),
        grab_tap_burst=_int(env, "GALA_GRAB_TAP_BURST", base.grab_tap_burst, 1, 10_000),
        tap_batch_max=_int(env, "GALA_TAP_BATCH_MAX", base.tap_batch_max, 1, 100_000),
        tap_max_wait_ms=_int(env, "GALA_TAP_MAX_WAIT_MS", base.tap_max_wait_ms, 10, 60_000),
        allow_volatile_redis=_choice(env, "GALA_ALLOW_VOLATILE_REDIS", "0", ("0", "1")) == "1",
    )


def default_node_id() -> str:
    """The host name and a random suffix: unique per process, readable in logs and metrics."""
    return f"{socket.gethostname()}-{secrets.token_hex(3)}"


def check_store_url(url: str) -> str:
    return _store_url(url)


def _store_url(url: str) -> str:
    if not (url.startswith("sqlite:///") or url.startswith(("redis://", "rediss://"))):
        raise SettingsError(
            f"GALA_STORE must be sqlite:///PATH or redis://HOST:PORT/DB, got {url!r}"
        )
    return url


PAYMENT_PROVIDERS = ("sandbox",)
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in LOG_LEVELS:
        raise SettingsError(f"GALA_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return level


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name) or default
    if raw not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _provider(raw: str | None) -> str | None:
    if not raw:
        return None
    if raw not in PAYMENT_PROVIDERS:
        raise SettingsError(
            f"GALA_PAYMENT_PROVIDER must be one of {', '.join(PAYMENT_PROVIDERS)}, got {raw!r}"
        )
    return raw


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _paths(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    return tuple(part for part in (p.strip() for p in raw.split(",")) if part)
