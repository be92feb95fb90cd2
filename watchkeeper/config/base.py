"""The base every configuration model derives from, and the cross-reference issue type."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict


class ConfigModel(BaseModel):
    """Base of every configuration model: immutable, unknown keys rejected, defaults validated.

    ``hide_input_in_errors`` keeps raw input values (which may hold camera passwords) out of the text of
    pydantic's ``ValidationError``; the loader builds its own redacted messages.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        hide_input_in_errors=True,
        validate_default=True,
    )


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem found by a cross-field check, with the key path it concerns.

    Attributes:
        path: Key path from the root of the file, for example ``("cameras", 2, "site")``.
        message: What is wrong, in lower case, without the path.
    """

    path: tuple[str | int, ...]
    message: str


def format_path(path: tuple[str | int, ...]) -> str:
    """Render a key path the way error messages show it: ``cameras[1].inputs[0].roles``.

    Args:
        path: Key names and list indexes from the root of the file.

    Returns:
        The dotted path, or an empty string for the root.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text
