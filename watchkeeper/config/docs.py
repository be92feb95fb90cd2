"""Generate ``docs/configuration.md`` from the configuration models.

Regenerate with ``python -m watchkeeper.config.docs > docs/configuration.md``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.config.secrets import redact_url

REGENERATE_COMMAND = "python -m watchkeeper.config.docs > docs/configuration.md"

_INTRO = f"""# Configuration reference

<!-- Generated from the models in watchkeeper/config/ by `{REGENERATE_COMMAND}`. Do not edit. -->

Watchkeeper reads one YAML file (see `examples/demo.yaml`). Every section is optional except that a useful
file lists `sites` and `cameras`. Unknown keys are errors, and every error names the file, the line and the
key path, for example `demo.yaml:14: cameras[1].inputs[0].roles[0]: input should be 'record' or 'detect'`.

- Relative paths (`storage.database_url` for SQLite, `storage.media_root`) resolve against the folder that
  holds the config file, not the current directory.
- URLs may contain credentials (`rtsp://user:pass@host/...`); passwords are never logged, shown in errors
  or returned by the API (they appear as `***`).
- Better, keep secrets out of the file: `${{secret:NAME}}` in a URL or password field (a whole value or part
  of one, e.g. `rtsp://viewer:${{secret:gate-cam}}@10.0.0.5/stream`) is replaced at load time by the secret
  stored encrypted in `secrets.enc` next to the config file (`watchkeeper secrets set --config FILE NAME`
  reads the value from stdin; see [deployment.md](deployment.md#encrypted-secrets)). Elsewhere a reference is
  an error, and so is an unknown name.
"""


def render_config_docs() -> str:
    """Render the Markdown reference of every configuration model.

    Returns:
        The Markdown text, ending with a newline.
    """
    schema = WatchkeeperConfig.model_json_schema()
    defs: dict[str, Any] = schema.get("$defs", {})
    parts = [_INTRO]
    for name, model_schema in _models_in_order(schema, defs):
        parts.append(_render_model(name, model_schema))
    return "\n".join(parts)


def _models_in_order(schema: dict[str, Any], defs: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield the root then every referenced model, in order of first reference."""
    queue: list[tuple[str, dict[str, Any]]] = [(schema["title"], schema)]
    seen = {schema["title"]}
    while queue:
        name, model_schema = queue.pop(0)
        yield name, model_schema
        for ref in _refs(model_schema):
            if ref not in seen and ref in defs:
                seen.add(ref)
                queue.append((ref, defs[ref]))


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            elif key != "$defs":
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _render_model(name: str, model_schema: dict[str, Any]) -> str:
    lines = [f"## `{name}`", "", model_schema.get("description", "").strip(), ""]
    lines += ["| Key | Type | Default | Bounds | Description |", "| --- | --- | --- | --- | --- |"]
    required = set(model_schema.get("required", []))
    for field, prop in model_schema.get("properties", {}).items():
        default = "*required*" if field in required else _default(prop)
        cells = [f"`{field}`", _type(prop), default, _bounds(prop), _description(prop)]
        lines.append("| " + " | ".join(_escape(cell) for cell in cells) + " |")
    lines.append("")
    return "\n".join(lines)


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return f"[`{prop['$ref'].rsplit('/', 1)[-1]}`](#{prop['$ref'].rsplit('/', 1)[-1].lower()})"
    if "const" in prop:
        return json.dumps(prop["const"])
    if "enum" in prop:
        return " or ".join(json.dumps(value) for value in prop["enum"])
    if "discriminator" in prop:
        members = " or ".join(_type(member) for member in prop.get("oneOf", ()))
        return f"{members}, chosen by `{prop['discriminator']['propertyName']}`"
    for key in ("anyOf", "oneOf"):
        if key in prop:
            return " or ".join(_type(member) for member in prop[key])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    if kind == "string" and prop.get("format") in ("uri-reference", "path"):
        return f"{kind} ({prop['format']})"
    return str(kind)


def _default(prop: dict[str, Any]) -> str:
    if "default" not in prop:
        if prop.get("type") == "array":
            return "`[]`"
        return "see section" if "$ref" in prop or "oneOf" in prop else ""
    return f"`{redact_url(json.dumps(prop['default']))}`"


def _bounds(prop: dict[str, Any]) -> str:
    labels = (
        ("minimum", ">= {}"),
        ("exclusiveMinimum", "> {}"),
        ("maximum", "<= {}"),
        ("exclusiveMaximum", "< {}"),
        ("minLength", "length >= {}"),
        ("maxLength", "length <= {}"),
        ("minItems", "items >= {}"),
        ("maxItems", "items <= {}"),
        ("pattern", "pattern `{}`"),
    )
    found = [template.format(prop[key]) for key, template in labels if key in prop]
    for member in prop.get("anyOf", ()):
        found += [template.format(member[key]) for key, template in labels if key in member]
    return ", ".join(found)


def _description(prop: dict[str, Any]) -> str:
    title = prop.get("title", "")
    description = " ".join(str(prop.get("description", "")).split())
    return f"**{title}.** {description}" if title else description


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":
    sys.stdout.write(render_config_docs())
