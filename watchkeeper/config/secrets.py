"""URLs that may carry credentials: a secret-holding type and a redaction helper."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*):(?P<password>[^/?#\s]*)@")
_SECRET_QUERY = re.compile(
    r"(?P<head>[?&;](?:password|passwd|pwd|pass|token|secret|api_key|apikey|key|auth)=)[^&#;\s]*",
    re.IGNORECASE,
)
_REDACTED = "***"


def redact_url(text: str) -> str:
    """Replace every password found in URLs inside ``text`` by ``***``.

    Handles ``scheme://user:password@host`` (the password may itself contain ``@``) and query parameters
    such as ``?password=...`` or ``&token=...``. Text without credentials is returned unchanged.

    Args:
        text: A URL, or any text that may contain URLs.

    Returns:
        The text with passwords and secret query values replaced.
    """
    text = _USERINFO.sub(lambda m: f"{m.group('head')}:{_REDACTED}@", text)
    return _SECRET_QUERY.sub(lambda m: f"{m.group('head')}{_REDACTED}", text)


class SecretUrl:
    """A URL whose password never shows in ``repr``, ``str``, serialisation or validation errors.

    Use :meth:`get_secret_value` to obtain the real URL when opening a connection; everything else sees
    :attr:`redacted`.
    """

    __slots__ = ("_hidden", "_value")

    def __init__(self, value: str, hidden: Iterable[str] = ()) -> None:
        """Wrap ``value``.

        Args:
            value: The full URL, credentials included.
            hidden: Further substrings to show as ``***`` wherever they appear (values of ``${secret:...}``
                references, which may sit outside the password part, e.g. a token in a webhook path).
        """
        self._value = value
        self._hidden = tuple(sorted({part for part in hidden if part}, key=len, reverse=True))

    def get_secret_value(self) -> str:
        """Return the real URL, credentials included (pass it to the connection, never to a log)."""
        return self._value

    @property
    def redacted(self) -> str:
        """The URL with its password (and any hidden part) replaced by ``***``."""
        text = self._value
        for part in self._hidden:
            text = text.replace(part, _REDACTED)
        return redact_url(text)

    @property
    def has_credentials(self) -> bool:
        """True when the URL carries a password that redaction hides."""
        return self.redacted != self._value

    def __repr__(self) -> str:
        return f"SecretUrl({self.redacted!r})"

    def __str__(self) -> str:
        return self.redacted

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretUrl) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    @classmethod
    def _validate(cls, value: object) -> SecretUrl:
        if isinstance(value, SecretUrl):
            return value
        if not isinstance(value, str):
            raise PydanticCustomError("url_type", "input should be a URL string")
        if not value.strip():
            raise PydanticCustomError("url_empty", "URL must not be empty")
        return cls(value.strip())

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        """Validate from a string; serialise to the redacted string."""
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                _serialize_redacted, when_used="always"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Describe the type as a non-empty string in JSON schema."""
        return {"type": "string", "minLength": 1, "format": "uri-reference"}


def _serialize_redacted(value: object) -> str:
    if isinstance(value, SecretUrl):
        return value.redacted
    return redact_url(str(value))
