"""Request and response models of the settings pages (configuration edits from the console).

Camera and site bodies are plain JSON shaped like the YAML file: the configuration models themselves
judge them when the edited file is validated, so the console and the file can never disagree.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from watchkeeper.api.schemas.models import ErrorBody


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RetentionSettings(_Model):
    """How long footage is kept (the ``recording`` section)."""

    retain_days: int = Field(description="Days continuous footage is kept.")
    event_retain_days: int = Field(description="Days footage overlapping an event is kept.")


class SettingsOut(_Model):
    """What the settings pages edit, as written in the file (passwords in URLs shown as ``***``)."""

    config_file: str = Field(description="Name of the configuration file being edited.")
    cameras: list[dict[str, JsonValue]] = Field(description="The `cameras` entries, as in the file.")
    sites: list[dict[str, JsonValue]] = Field(description="The `sites` entries, as in the file.")
    retention: RetentionSettings


class EnabledIn(_Model):
    """Turn a camera on or off."""

    enabled: bool


class ChangeOut(_Model):
    """A written configuration change."""

    summary: str = Field(description="What changed.")
    applied: bool = Field(description="Whether the running server applied it already (else: at restart).")
    detail: str = Field(default="", description="Why it was not applied live, when it was not.")
    backup: str = Field(description="File name of the copy kept from before the change.")


class FieldProblem(_Model):
    """One validation problem, located on a form field."""

    field: str = Field(
        description="Key path inside the edited item (`inputs[0].url`); empty: the whole item."
    )
    path: str = Field(description="Key path in the configuration file (`cameras[2].inputs[0].url`).")
    message: str


class ConfigRejectedOut(_Model):
    """The edit would make the configuration invalid; nothing was written."""

    error: ErrorBody
    fields: list[FieldProblem] = Field(
        default_factory=list,
        description="Each problem located on a form field (empty for a request the API could not parse).",
    )


class ProbeIn(_Model):
    """A stream to try: a URL (a ``***`` password is taken from camera ``camera_id``'s stored URL)."""

    url: str = Field(min_length=1, max_length=2000)
    transport: Literal["tcp", "udp"] = "tcp"
    camera_id: str | None = Field(default=None, max_length=63)

    @field_validator("url")
    @classmethod
    def _printable(cls, url: str) -> str:
        """A URL or path has no control characters and is valid UTF-8 (no lone surrogates)."""
        if not url.isprintable():
            raise ValueError("the URL contains control characters")
        try:
            url.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError("the URL is not valid text (lone surrogate)") from err
        return url


class ProbeOut(_Model):
    """What a stream answered (never the URL's password)."""

    ok: bool
    codec: str = ""
    width: int = 0
    height: int = 0
    detail: str = Field(description="`h264 1280x720 + audio aac`, or why it could not be opened.")
