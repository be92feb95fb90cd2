"""Print the OpenAPI schema: ``python -m watchkeeper.api.openapi > openapi.json``.

The schema is checked into the repository; the console's TypeScript client is generated from it and a
test fails when either is stale.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from watchkeeper.api.schemas import WsCameraStatus, WsEvent
from watchkeeper.api.schemas.custody import WsBreakGlass
from watchkeeper.api.schemas.live import WsCursor, WsIncident


def build_openapi() -> dict[str, Any]:
    """The schema of an app built over an empty context (routes do not depend on data)."""
    from fastapi.openapi.utils import get_openapi

    from watchkeeper.api.app import create_app
    from watchkeeper.runtime.wiring import schema_only_context

    app = create_app(schema_only_context())
    schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (WsEvent, WsCameraStatus, WsIncident, WsCursor, WsBreakGlass):
        extra = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in extra.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components[model.__name__] = extra
    return schema


def render_openapi() -> str:
    """The schema as stable, pretty JSON text with a trailing newline."""
    return json.dumps(build_openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_openapi())
