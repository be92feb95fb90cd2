"""The ``integrations`` section: MQTT (with Home Assistant discovery) and outbound webhooks.

Secrets (the MQTT password, webhook signing secrets and webhook URLs, which may carry tokens) are secret
types: they never appear in ``repr``, logs, validation errors or API answers.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self, TypeAlias

from pydantic import AfterValidator, Field, SecretStr, model_validator

from watchkeeper.config.base import ConfigModel
from watchkeeper.config.secrets import SecretUrl

TOPIC_PATTERN = r"^[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*$"
"""MQTT topic prefixes: slash-separated words, no wildcards, no leading or trailing slash."""
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"

WebhookEvent: TypeAlias = Literal[
    "incident.created",
    "incident.alarm",
    "incident.transition",
    "incident.assigned",
    "incident.priority",
    "incident.note",
    "incident.attachment",
    "incident.sop",
    "incident.escalated",
    "camera.status",
    "custody.break_glass",
]
"""Events a webhook may subscribe to: one per kind of incident change, camera state changes, and break glass
(emergency access to live originals, sent by default so approvers hear of it)."""

INCIDENT_EVENTS: tuple[WebhookEvent, ...] = (
    "incident.created",
    "incident.alarm",
    "incident.transition",
    "incident.assigned",
    "incident.priority",
    "incident.note",
    "incident.attachment",
    "incident.sop",
    "incident.escalated",
)


def check_http_url(url: SecretUrl) -> SecretUrl:
    """Accept only ``http://`` and ``https://`` URLs with a host.

    Raises:
        ValueError: For another scheme or a URL without a host (the message shows the redacted URL).
    """
    text = url.get_secret_value()
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or rest.startswith("/"):
        raise ValueError(f"webhook URL {url.redacted!r} must be http(s)://host/...")
    return url


class MqttConfig(ConfigModel):
    """Publishing incidents and camera states to an MQTT broker, with Home Assistant discovery."""

    enabled: bool = Field(default=False, title="Enabled", description="Publish to the MQTT broker.")
    host: str = Field(
        default="127.0.0.1", title="Broker host", description="Host name or address.", min_length=1
    )
    port: int = Field(
        default=1883, title="Broker port", description="TCP port of the MQTT broker.", ge=1, le=65535
    )
    username: str | None = Field(
        default=None,
        title="User name",
        description="Broker user (none: anonymous).",
        min_length=1,
        max_length=200,
    )
    password: SecretStr | None = Field(
        default=None, title="Password", description="Broker password (never logged or returned)."
    )
    client_id: str = Field(
        default="watchkeeper",
        title="Client id",
        description="MQTT client id; also names the Home Assistant device.",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
    )
    topic_prefix: str = Field(
        default="watchkeeper",
        title="Topic prefix",
        description="Root of every state topic (`<prefix>/cameras/<id>/state`, `<prefix>/incidents/<id>`).",
        pattern=TOPIC_PATTERN,
        max_length=200,
    )
    discovery: bool = Field(
        default=True, title="Home Assistant discovery", description="Publish discovery config topics."
    )
    discovery_prefix: str = Field(
        default="homeassistant",
        title="Discovery prefix",
        description="Home Assistant's discovery prefix.",
        pattern=TOPIC_PATTERN,
        max_length=200,
    )
    qos: int = Field(default=1, title="QoS", description="MQTT quality of service: 0, 1 or 2.", ge=0, le=2)
    keepalive_s: int = Field(
        default=30, title="Keep-alive", description="Keep-alive interval in seconds.", ge=5, le=3600
    )
    queue_size: int = Field(
        default=10_000,
        title="Queue size",
        description="Messages kept in memory while the broker is unreachable; beyond it the oldest go.",
        ge=10,
        le=1_000_000,
    )
    retry_initial_s: float = Field(
        default=1.0, title="First retry", description="Seconds before the first reconnect.", gt=0, le=60
    )
    retry_max_s: float = Field(
        default=30.0,
        title="Longest retry",
        description="Upper bound of the reconnect backoff.",
        gt=0,
        le=3600,
    )

    @model_validator(mode="after")
    def _backoff_order(self) -> Self:
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s must not be smaller than retry_initial_s")
        return self


class WebhookConfig(ConfigModel):
    """One outbound webhook: where to POST, the signing secret and which events it wants."""

    name: str = Field(
        title="Name", description="Unique name (shown with its deliveries).", pattern=NAME_PATTERN
    )
    url: Annotated[SecretUrl, AfterValidator(check_http_url)] = Field(
        title="URL", description="Where to POST (http or https; may carry a token, never shown)."
    )
    secret: SecretStr = Field(
        title="Signing secret",
        description="HMAC-SHA256 key of the `X-Watchkeeper-Signature` header (at least 16 characters).",
        min_length=16,
        max_length=512,
    )
    events: list[WebhookEvent] = Field(
        default_factory=list,
        title="Events",
        description="Events to send (empty: every incident event and break glass, no camera states).",
        max_length=20,
    )
    timeout_s: float = Field(
        default=10.0, title="Timeout", description="Seconds one attempt may take.", gt=0, le=120
    )
    max_attempts: int = Field(
        default=8, title="Attempts", description="Attempts before a delivery is a dead letter.", ge=1, le=50
    )
    retry_initial_s: float = Field(
        default=2.0, title="First retry", description="Seconds before the second attempt.", gt=0, le=3600
    )
    retry_max_s: float = Field(
        default=600.0, title="Longest retry", description="Upper bound of the retry backoff.", gt=0, le=86400
    )

    def wants(self, event: str) -> bool:
        """True when this webhook subscribes to ``event``."""
        if not self.events:
            return event in INCIDENT_EVENTS or event == "custody.break_glass"
        return event in self.events

    def backoff_s(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` failed attempts (exponential, capped)."""
        return float(min(self.retry_initial_s * 2 ** max(attempts - 1, 0), self.retry_max_s))


class IntegrationsConfig(ConfigModel):
    """Outbound integrations."""

    mqtt: MqttConfig = Field(
        default_factory=MqttConfig, title="MQTT", description="MQTT broker and Home Assistant discovery."
    )
    webhooks: list[WebhookConfig] = Field(
        default_factory=list, title="Webhooks", description="Outbound webhooks.", max_length=100
    )
    keep_delivered_s: int = Field(
        default=86400,
        title="Keep delivered",
        description="Seconds a delivered webhook delivery is kept before it is pruned (dead letters stay).",
        ge=60,
        le=90 * 86400,
    )
    journal_keep_s: int = Field(
        default=7 * 86400,
        title="Journal retention",
        description="Seconds incident changes stay replayable for consoles that reconnect.",
        ge=3600,
        le=90 * 86400,
    )

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        names = [hook.name for hook in self.webhooks]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate webhook name(s): {', '.join(duplicates)}")
        return self

    def webhook(self, name: str) -> WebhookConfig | None:
        """The webhook named ``name``, or None."""
        return next((hook for hook in self.webhooks if hook.name == name), None)
