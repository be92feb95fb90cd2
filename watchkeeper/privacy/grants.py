"""Unmask grants (four eyes): one user asks for originals with a reason, a different user decides.

Permissions (who may request, who may approve) are the API's job; this service enforces the rules that
hold whoever calls: nobody approves their own request, only pending requests are decided, grants expire,
revoked and expired grants unmask nothing, break glass covers live originals only. Every step is audited.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from watchkeeper.audit.log import AuditAction, AuditLog
from watchkeeper.domain import CameraId, NotFoundError, utcnow
from watchkeeper.domain.custody import GrantRefusedError, GrantScope, GrantState, NoGrantError, UnmaskGrant
from watchkeeper.storage.custody import GrantRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GrantSettings:
    """How long grants last and whether break glass exists."""

    valid_hours: float = 24.0
    max_valid_hours: float = 24.0 * 7
    break_glass: bool = False
    break_glass_minutes: float = 15.0


@dataclass(frozen=True, slots=True)
class GrantRequest:
    """What an investigator asks for."""

    requester: str
    camera_ids: tuple[CameraId, ...]
    start: datetime
    end: datetime
    reason: str
    valid_hours: float | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does something, from where (the client address)."""

    username: str
    client: str = ""


def _target(grant: UnmaskGrant) -> str:
    return f"grant:{grant.id}"


class GrantService:
    """Requests, decisions, revocations and the covering check of unmask grants."""

    def __init__(
        self,
        repository: GrantRepository,
        audit: AuditLog,
        settings: GrantSettings | None = None,
        notify: Callable[[UnmaskGrant], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Store grants in ``repository``; ``notify`` hears of every break-glass grant."""
        self._repository = repository
        self._audit = audit
        self._settings = settings or GrantSettings()
        self._notify = notify
        self._clock = clock

    @property
    def settings(self) -> GrantSettings:
        """The grant settings."""
        return self._settings

    def get(self, grant_id: str) -> UnmaskGrant:
        """One grant.

        Raises:
            NotFoundError: If there is none with that id.
        """
        grant = self._repository.get(grant_id)
        if grant is None:
            raise NotFoundError(f"no unmask grant with id {grant_id!r}")
        return grant

    def list(self, requester: str | None = None) -> Sequence[UnmaskGrant]:
        """Grants newest first (of one requester when given)."""
        return self._repository.list(requester)

    def request(self, ask: GrantRequest, client: str = "") -> UnmaskGrant:
        """Store a pending request (audited).

        Raises:
            GrantRefusedError: If the validity asked for is longer than allowed.
            ValueError: If the range, cameras or reason are unusable.
        """
        hours = ask.valid_hours if ask.valid_hours is not None else self._settings.valid_hours
        if not 0 < hours <= self._settings.max_valid_hours:
            raise GrantRefusedError(f"a grant may last at most {self._settings.max_valid_hours:g} hours")
        grant = UnmaskGrant(
            id=f"grt-{secrets.token_hex(8)}",
            requester=ask.requester,
            camera_ids=tuple(sorted(set(ask.camera_ids))),
            start=ask.start,
            end=ask.end,
            reason=ask.reason.strip(),
            requested_at=self._clock(),
            valid_hours=hours,
        )
        stored = self._repository.add(grant)
        self._audit_grant(Actor(ask.requester, client), AuditAction.UNMASK_REQUEST, stored, stored.reason)
        return stored

    def approve(self, grant_id: str, approver: Actor, note: str = "") -> UnmaskGrant:
        """Approve a pending request of someone else; the grant runs for its validity from now.

        Raises:
            GrantRefusedError: Self-approval, or the request is no longer pending.
        """
        grant = self._pending(grant_id, approver)
        now = self._clock()
        decided = replace(
            grant,
            state=GrantState.APPROVED,
            decided_by=approver.username,
            decided_at=now,
            note=note,
            expires_at=now + timedelta(hours=grant.valid_hours),
        )
        saved = self._repository.save(decided, GrantState.PENDING.value)
        self._audit_grant(approver, AuditAction.UNMASK_APPROVE, saved, note)
        return saved

    def refuse(self, grant_id: str, approver: Actor, note: str = "") -> UnmaskGrant:
        """Refuse a pending request.

        Raises:
            GrantRefusedError: The decider is the requester, or the request is no longer pending.
        """
        grant = self._pending(grant_id, approver)
        decided = replace(
            grant, state=GrantState.REFUSED, decided_by=approver.username, decided_at=self._clock(), note=note
        )
        saved = self._repository.save(decided, GrantState.PENDING.value)
        self._audit_grant(approver, AuditAction.UNMASK_REFUSE, saved, note)
        return saved

    def revoke(self, grant_id: str, by: Actor, reason: str = "") -> UnmaskGrant:
        """End a pending or approved grant now.

        Raises:
            GrantRefusedError: If it was already refused or revoked.
        """
        grant = self.get(grant_id)
        if grant.state not in (GrantState.PENDING, GrantState.APPROVED):
            raise GrantRefusedError(f"unmask grant {grant_id} is already {grant.state.value}")
        revoked = replace(grant, state=GrantState.REVOKED, revoked_by=by.username, revoked_at=self._clock())
        saved = self._repository.save(revoked, grant.state.value)
        self._audit_grant(by, AuditAction.UNMASK_REVOKE, saved, reason)
        return saved

    def break_glass(self, who: Actor, camera_ids: Sequence[CameraId], reason: str) -> UnmaskGrant:
        """An emergency grant to live originals, active at once for a few minutes; loudly audited.

        Raises:
            GrantRefusedError: If break glass is turned off or no reason is given.
        """
        if not self._settings.break_glass:
            raise GrantRefusedError("break glass is turned off in this installation")
        if len(reason.strip()) < 10:
            raise GrantRefusedError("break glass needs a reason (at least 10 characters)")
        now = self._clock()
        minutes = self._settings.break_glass_minutes
        grant = UnmaskGrant(
            id=f"grt-{secrets.token_hex(8)}",
            requester=who.username,
            camera_ids=tuple(sorted(set(camera_ids))),
            start=now,
            end=now + timedelta(minutes=minutes),
            reason=reason.strip(),
            requested_at=now,
            valid_hours=minutes / 60,
            scope=GrantScope.LIVE,
            state=GrantState.APPROVED,
            expires_at=now + timedelta(minutes=minutes),
            decided_by=who.username,
            decided_at=now,
            note="break glass",
            break_glass=True,
        )
        stored = self._repository.add(grant)
        self._audit_grant(who, AuditAction.BREAK_GLASS, stored, stored.reason)
        log.warning("BREAK GLASS by %s on %s: %s", who.username, ", ".join(stored.camera_ids), stored.reason)
        if self._notify is not None:
            self._notify(stored)
        return stored

    def authorize(
        self, who: Actor, camera_id: CameraId, start: datetime, end: datetime, scope: GrantScope
    ) -> UnmaskGrant:
        """The grant letting ``who`` see originals of ``camera_id`` over ``[start, end)``; audits the use.

        Raises:
            NoGrantError: No active grant of ``who`` covers it (expired, revoked, pending, other range).
        """
        now = self._clock()
        for grant in self._repository.list(who.username):
            if grant.scope is scope and grant.covers(camera_id, start, end, now):
                self._audit.record(
                    who.username,
                    AuditAction.UNMASK_USE,
                    f"camera:{camera_id}",
                    client=who.client,
                    reason=grant.reason,
                    details={"grant": grant.id, "start": start.isoformat(), "end": end.isoformat()},
                )
                return grant
        self._audit.record(
            who.username,
            AuditAction.UNMASK_DENIED,
            f"camera:{camera_id}",
            client=who.client,
            details={"start": start.isoformat(), "end": end.isoformat(), "scope": scope.value},
        )
        raise NoGrantError(
            f"originals of camera {camera_id} from {start.isoformat()} to {end.isoformat()} need an "
            "approved, unexpired unmask grant"
        )

    def authorize_live(self, who: Actor, camera_id: CameraId) -> UnmaskGrant:
        """The grant letting ``who`` see ``camera_id``'s live originals now; audits the use.

        A break-glass (live) grant, or an approved grant for recordings whose range covers this instant.

        Raises:
            NoGrantError: No active grant of ``who`` covers the camera now.
        """
        now = self._clock()
        for grant in self._repository.list(who.username):
            if grant.covers(camera_id, now, now, now):
                self._audit.record(
                    who.username,
                    AuditAction.UNMASK_USE,
                    f"camera:{camera_id}",
                    client=who.client,
                    reason=grant.reason,
                    details={"grant": grant.id, "live": True, "break_glass": grant.break_glass},
                )
                return grant
        self._audit.record(
            who.username,
            AuditAction.UNMASK_DENIED,
            f"camera:{camera_id}",
            client=who.client,
            details={"live": True},
        )
        raise NoGrantError(
            f"live originals of camera {camera_id} need break glass or an approved grant covering now"
        )

    def _pending(self, grant_id: str, decider: Actor) -> UnmaskGrant:
        grant = self.get(grant_id)
        if grant.requester == decider.username:
            self._audit_grant(decider, AuditAction.UNMASK_DENIED, grant, "self-approval refused")
            raise GrantRefusedError("you cannot decide your own unmask request: another approver must")
        if grant.state is not GrantState.PENDING:
            raise GrantRefusedError(f"unmask grant {grant_id} is {grant.state.value}, not pending")
        return grant

    def _audit_grant(self, who: Actor, action: AuditAction, grant: UnmaskGrant, reason: str) -> None:
        self._audit.record(
            who.username,
            action,
            _target(grant),
            client=who.client,
            reason=reason,
            details={
                "cameras": ",".join(grant.camera_ids),
                "start": grant.start.isoformat(),
                "end": grant.end.isoformat(),
                "state": grant.state.value,
                "expires_at": grant.expires_at.isoformat() if grant.expires_at else None,
            },
        )
