"""Appending to the audit log."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

from watchkeeper.domain import utcnow
from watchkeeper.domain.custody import AuditEntry, AuditRecord, canonical_json
from watchkeeper.storage.custody import AuditRepository

log = logging.getLogger(__name__)

DetailValue = str | int | float | bool | None


class AuditAction(StrEnum):
    """What an audit record is about."""

    LOGIN = "login"
    LOGIN_FAILED = "login.failed"
    USER_CHANGE = "user.change"
    CONFIG_CHANGE = "config.change"
    LIVE_START = "live.start"
    LIVE_STOP = "live.stop"
    LIVE_SNAPSHOT = "live.snapshot"
    PLAYBACK = "playback"
    CLIP = "clip"
    EXPORT = "export"
    UNMASK_REQUEST = "unmask.request"
    UNMASK_APPROVE = "unmask.approve"
    UNMASK_REFUSE = "unmask.refuse"
    UNMASK_REVOKE = "unmask.revoke"
    UNMASK_USE = "unmask.use"
    UNMASK_DENIED = "unmask.denied"
    BREAK_GLASS = "unmask.break_glass"
    EVIDENCE_LOCK = "evidence.lock"
    EVIDENCE_RELEASE = "evidence.release"
    SEGMENT_TAMPERED = "segment.tampered"
    KEYS_ROTATE = "keys.rotate"


class AuditLog:
    """Appends chained audit records (writes go through; a failing write raises, the action fails closed)."""

    def __init__(self, repository: AuditRepository, clock: Callable[[], datetime] = utcnow) -> None:
        """Append to ``repository``; ``clock`` stamps records."""
        self._repository = repository
        self._clock = clock

    @property
    def repository(self) -> AuditRepository:
        """The underlying repository (excerpts, verification)."""
        return self._repository

    def record(
        self,
        actor: str,
        action: AuditAction,
        target: str = "",
        *,
        client: str = "",
        reason: str = "",
        details: dict[str, DetailValue] | None = None,
    ) -> AuditRecord:
        """Append one record; returns it (with its sequence number and hash)."""
        entry = AuditEntry(
            at=self._clock(),
            actor=actor,
            action=action.value,
            target=target,
            client=client,
            reason=reason,
            details=canonical_json(details or {}),
        )
        record = self._repository.append(entry)
        log.debug("audit #%s %s %s %s", record.seq, actor, action.value, target)
        return record

    def config_loaded(self, config_hash: str) -> AuditRecord | None:
        """Record a config change when ``config_hash`` differs from the last recorded one; None when same."""
        previous = self._repository.about(["config"])
        if previous and f'"sha256":"{config_hash}"' in previous[-1].details:
            return None
        return self.record("system", AuditAction.CONFIG_CHANGE, "config", details={"sha256": config_hash})
