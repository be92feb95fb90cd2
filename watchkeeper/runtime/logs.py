"""Readable, structured logs: ``time level logger message key=value`` text, or one JSON object a line.

Every record carries the node (``set_log_node``: worker id or API node name, and its role) once a server
runs, and the camera id when a camera's thread (``camera-<id>-<n>``) logged it, so the lines of many
processes and cameras can be merged and filtered.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]

QUIET_LOGGERS = ("uvicorn.access", "libav", "alembic", "httpx", "httpcore")  # httpx logs full URLs (tokens)
CAMERA_THREAD = re.compile(r"^camera-(?P<camera>.+)-\d+$")
"""Names of camera input threads (``runtime.camera_worker``): ``camera-<camera id>-<input index>``."""


class NodeFilter(logging.Filter):
    """Adds ``node``, ``role`` and ``camera`` to every record (empty strings when unknown)."""

    def __init__(self) -> None:
        """Start without a node (until :func:`set_log_node`)."""
        super().__init__()
        self.node = ""
        self.role = ""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate ``record`` (never drops it)."""
        record.node = self.node
        record.role = self.role
        if not getattr(record, "camera", ""):
            match = CAMERA_THREAD.match(record.threadName or "")
            record.camera = match.group("camera") if match else ""
        return True


def _node_filter(handler: logging.Handler) -> NodeFilter | None:
    return next((item for item in handler.filters if isinstance(item, NodeFilter)), None)


def set_log_node(node: str, role: str) -> None:
    """Name this process's node and role in every log line from now on."""
    for handler in logging.getLogger().handlers:
        found = _node_filter(handler)
        if found is not None:
            found.node, found.role = node, role


class JsonFormatter(logging.Formatter):
    """One JSON object per record (for log shippers)."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as JSON."""
        body: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("node", "role", "camera"):
            value = getattr(record, key, "")
            if value:
                body[key] = value
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


class TextFormatter(logging.Formatter):
    """``2026-11-25T10:00:00.123Z INFO  watchkeeper.runtime  camera cam1 streaming``."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as one readable line."""
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        node = getattr(record, "node", "")
        where = f" [{node}]" if node else ""
        line = f"{stamp} {record.levelname:<7}{where} {record.name}  {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str = "INFO", fmt: LogFormat = "text") -> None:
    """Send our logs to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(NodeFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
