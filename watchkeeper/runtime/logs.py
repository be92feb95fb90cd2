"""Readable, structured logs: ``time level logger message key=value`` text, or one JSON object a line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]

QUIET_LOGGERS = ("uvicorn.access", "libav", "alembic", "httpx", "httpcore")  # httpx logs full URLs (tokens)


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
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


class TextFormatter(logging.Formatter):
    """``2026-11-25T10:00:00.123Z INFO  watchkeeper.runtime  camera cam1 streaming``."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as one readable line."""
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        line = f"{stamp} {record.levelname:<7} {record.name}  {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str = "INFO", fmt: LogFormat = "text") -> None:
    """Send our logs to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
