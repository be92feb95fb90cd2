"""The edits the console's settings pages make to the configuration document.

Each function returns a change for :meth:`ConfigEditor.edit <watchkeeper.config.editor.ConfigEditor.edit>`:
it mutates the round-trip document and returns the key path of the item it edited, so validation problems
can be shown next to the right form field. Values are plain JSON data shaped like the YAML; the models
that load the file judge them (nothing is validated here twice).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ruamel.yaml.comments import CommentedMap

from watchkeeper.config.base import format_path
from watchkeeper.config.editor import (
    ConfigEditRejected,
    Document,
    find_item,
    merge_into,
    section_list,
    section_map,
)
from watchkeeper.config.errors import ConfigProblem
from watchkeeper.config.secrets import redact_url

Change = Callable[[Document], str]
"""Mutates the document; returns the key path of the edited item."""

REDACTED = "***"


def put_camera(camera_id: str | None, values: dict[str, Any]) -> Change:
    """Add a camera (``camera_id`` None) or replace the settings of ``camera_id``.

    A URL still showing the redacted password (``rtsp://user:***@host/...``) keeps the stored URL of that
    input, so an edit need not repeat a password the console never saw.
    """

    def change(document: Document) -> str:
        cameras = section_list(document, "cameras")
        if camera_id is None:
            cameras.append(CommentedMap())
            index, existing = len(cameras) - 1, CommentedMap()
            target = cameras[index]
        else:
            index, target = find_item(cameras, camera_id, "camera")
            existing = CommentedMap(target)
        prefix = format_path(("cameras", index))
        if camera_id is not None and values.get("id", camera_id) != camera_id:
            problem = ConfigProblem("", None, f"{prefix}.id", "the id of an existing camera cannot change")
            raise ConfigEditRejected([problem], prefix)
        merge_into(target, _keep_hidden_urls(values, existing, prefix))
        return prefix

    return change


def _keep_hidden_urls(values: dict[str, Any], existing: CommentedMap, prefix: str) -> dict[str, Any]:
    inputs = values.get("inputs")
    old_inputs = existing.get("inputs")
    if not isinstance(inputs, list):
        return values
    kept: list[Any] = []
    for position, item in enumerate(inputs):
        url = item.get("url") if isinstance(item, dict) else None
        if not isinstance(url, str) or REDACTED not in url:
            kept.append(item)
            continue
        old = old_inputs[position] if isinstance(old_inputs, list) and position < len(old_inputs) else None
        old_url = old.get("url") if isinstance(old, dict) else None
        if not isinstance(old_url, str) or redact_url(old_url) != url:
            path = f"{prefix}.inputs[{position}].url"
            message = "type the password again (the stored one is only shown as ***)"
            raise ConfigEditRejected([ConfigProblem("", None, path, message)], prefix)
        kept.append({**item, "url": old_url})
    return {**values, "inputs": kept}


def set_camera_enabled(camera_id: str, enabled: bool) -> Change:
    """Turn a camera on or off (a disabled camera is neither recorded nor analysed)."""

    def change(document: Document) -> str:
        index, target = find_item(section_list(document, "cameras"), camera_id, "camera")
        target["enabled"] = enabled
        return format_path(("cameras", index))

    return change


def put_site(site_id: str | None, values: dict[str, Any]) -> Change:
    """Add a site (``site_id`` None) or replace the settings of ``site_id`` (its id cannot change)."""

    def change(document: Document) -> str:
        sites = section_list(document, "sites")
        if site_id is None:
            sites.append(CommentedMap())
            index = len(sites) - 1
            target = sites[index]
        else:
            index, target = find_item(sites, site_id, "site")
        prefix = format_path(("sites", index))
        if site_id is not None and values.get("id", site_id) != site_id:
            problem = ConfigProblem("", None, f"{prefix}.id", "the id of an existing site cannot change")
            raise ConfigEditRejected([problem], prefix)
        merge_into(target, values)
        return prefix

    return change


def set_retention(retain_days: int, event_retain_days: int) -> Change:
    """Set ``recording.retain_days`` and ``recording.event_retain_days``."""

    def change(document: Document) -> str:
        recording = section_map(document, "recording")
        recording["retain_days"] = retain_days
        recording["event_retain_days"] = event_retain_days
        return "recording"

    return change
