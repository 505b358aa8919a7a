"""Process settings read from ``MSCC_*`` environment variables (see CONTRACT "Environment")."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["production", "demo", "test"]

# Values people paste from examples; a server signing tokens with one of these is open to anyone.
_PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "changethis", "secret", "secret-key", "your-secret-key", "mscc", "demo"}
)
MIN_SECRET_LENGTH = 32


class SettingsError(ValueError):
    """A process setting is missing or unusable; the message names the variable."""


class Settings(BaseSettings):
    """Settings of one mscc process. Everything a deployment changes comes from the environment."""

    model_config = SettingsConfigDict(env_prefix="MSCC_", extra="ignore")

    environment: Environment = Field(
        "production",
        title="Environment",
        description="`demo` relaxes the secret-key check; `production` refuses placeholder secrets.",
    )
    data_dir: Path = Field(
        Path("mscc-data"),
        title="Data directory",
        description="Snapshots, evidence, models and the embedded SQLite database live here.",
    )
    database_url: str | None = Field(
        None,
        title="Database URL",
        description="SQLAlchemy URL; unset means a SQLite file in the data dir. "
        "Production: postgresql+psycopg://user:pass@host/db",
    )
    redis_url: str | None = Field(
        None,
        title="Redis URL",
        description="Unset: in-process event bus (one machine). Set: Redis Streams shared by all workers.",
    )
    secret_key: SecretStr | None = Field(
        None, title="Secret key", description="Signs bearer tokens; at least 32 characters outside demo."
    )
    mqtt_url: str | None = Field(None, title="MQTT URL", description="Optional events out (mscc/<type>).")
    webhook_urls: str | None = Field(
        None, title="Webhook URLs", description="Comma-separated URLs that get events as signed JSON POSTs."
    )
    webhook_secret: SecretStr | None = Field(
        None, title="Webhook secret", description="HMAC-SHA256 key of X-Mscc-Signature; needed with URLs."
    )
    case_window_minutes: int = Field(
        60, ge=1, le=7 * 24 * 60, title="Case window", description="Alerts this close join one open case."
    )
    case_confirm_minutes: dict[str, int] = Field(
        default_factory=dict,
        title="Confirmation deadlines",
        description='Minutes a case may stay unconfirmed per violation, JSON: {"rodent": 30}; over defaults.',
    )
    recordings_days: float = Field(
        7, gt=0, title="Recording retention", description="Days continuous recordings are kept."
    )
    recordings_budget_gb: float = Field(
        0, ge=0, title="Recording disk budget", description="GB for recordings and clips; 0 means no limit."
    )
    clip_before_s: float = Field(10, ge=0, le=300, title="Clip lead", description="Seconds before an alert.")
    clip_after_s: float = Field(20, ge=0, le=300, title="Clip tail", description="Seconds after an alert.")
    clip_keep_days: float = Field(
        90, ge=0, title="Clip retention", description="Days an evidence clip outlives its closed case."
    )
    district_config: Path | None = Field(
        None, title="District config", description="YAML file with streets, restaurants, cameras, people."
    )
    detectors_config: Path | None = Field(
        None,
        title="Detector config",
        description="YAML with the models, rules and motion gate (default: the shipped detectors.yaml).",
    )
    unknown_devices: Literal["hold", "reject"] = Field(
        "hold",
        title="Unknown GPS devices",
        description="`hold`: fixes of unregistered device ids are kept for a district admin to approve "
        "or reject; `reject`: they are refused with a 400.",
    )
    token_ttl_minutes: int = Field(
        12 * 60, ge=1, le=60 * 24 * 31, title="Token lifetime", description="Bearer token lifetime, minutes."
    )
    event_stream: str = Field(
        "mscc:events", title="Event stream", description="Redis stream key that carries the event bus."
    )

    @property
    def recordings_dir(self) -> Path:
        """Where ``--record`` writes camera segments (CONTRACT: the data dir's recordings/)."""
        return self.data_dir / "recordings"

    @property
    def clips_dir(self) -> Path:
        """Where evidence clips cut around alerts are kept."""
        return self.data_dir / "clips"

    @property
    def effective_database_url(self) -> str:
        """The database URL to connect to: the configured one or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'mscc.db').resolve()}"

    def checked_secret(self) -> str:
        """Return the signing secret, refusing a missing or placeholder one outside the demo.

        The demo keeps a random secret in its data dir so that tokens survive a restart.
        """
        value = self.secret_key.get_secret_value() if self.secret_key else ""
        if self.environment == "demo" and not value:
            return demo_secret(self.data_dir)
        if value.strip().lower() in _PLACEHOLDER_SECRETS or len(value) < MIN_SECRET_LENGTH:
            if self.environment == "test" and value:
                return value
            raise SettingsError(
                "MSCC_SECRET_KEY is missing or a placeholder; set it to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters, e.g. the output of "
                "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return value


def demo_secret(data_dir: Path) -> str:
    """Return the demo's signing secret, creating it in ``data_dir`` on first use."""
    path = data_dir / "demo-secret-key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value
