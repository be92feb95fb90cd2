"""Permissions and the default roles (pure data; roles are configurable in the ``auth`` config section)."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    """One thing a role may do. Camera permissions are checked per camera (through the grant's scope)."""

    VIEW_CAMERAS = "cameras.view"
    """See that a camera exists: its name, position and connection state."""
    VIEW_LIVE = "live.view"
    """Live state: the latest snapshot and live pushes over the WebSocket."""
    VIEW_EVENTS = "events.view"
    """List and search analysis events."""
    VIEW_RECORDINGS = "recordings.view"
    """Play recordings: the index, segment media, HLS playlists and the timeline."""
    EXPORT = "recordings.export"
    """Export footage (MP4 clips, evidence bundles)."""
    LOCK_EVIDENCE = "evidence.lock"
    """Exempt footage from retention (evidence locks)."""
    REQUEST_UNMASK = "unmask.request"
    """Ask to see the unblurred original of a time range."""
    APPROVE_UNMASK = "unmask.approve"
    """Approve someone else's unmask request."""
    MANAGE_USERS = "users.manage"
    """Create, change and delete users and their role grants (global only)."""
    VIEW_METRICS = "system.metrics"
    """Read the Prometheus metrics of the server (global only)."""
    MANAGE_CONFIG = "config.manage"
    """Edit the configuration from the console: cameras, sites, retention (global only)."""
    MANAGE_INTEGRATIONS = "integrations.manage"
    """See outbound webhook deliveries and dead letters, and retry them (global only)."""
    VIEW_INCIDENTS = "incidents.view"
    """See incidents of the sites and cameras in scope."""
    REPORT_INCIDENTS = "incidents.report"
    """Open incidents: operator reports ("discovered on duty") and phone-in intake."""
    HANDLE_INCIDENTS = "incidents.handle"
    """Work incidents: acknowledge, move through the workflow, assign, notes, SOP steps."""
    ADMIN_INCIDENTS = "incidents.admin"
    """Everything on incidents, and read every phone-in caller's details."""


GLOBAL_PERMISSIONS = frozenset(
    {
        Permission.MANAGE_USERS,
        Permission.VIEW_METRICS,
        Permission.MANAGE_INTEGRATIONS,
        Permission.MANAGE_CONFIG,
    }
)
"""Permissions that concern the whole installation: only a grant with no site/camera scope gives them."""

_VIEWER = (
    Permission.VIEW_CAMERAS,
    Permission.VIEW_LIVE,
    Permission.VIEW_EVENTS,
    Permission.VIEW_RECORDINGS,
    Permission.VIEW_INCIDENTS,
)
_OPERATOR = (*_VIEWER, Permission.LOCK_EVIDENCE, Permission.REPORT_INCIDENTS, Permission.HANDLE_INCIDENTS)
_INVESTIGATOR = (*_OPERATOR, Permission.EXPORT, Permission.REQUEST_UNMASK)
_APPROVER = (*_VIEWER, Permission.APPROVE_UNMASK)


def default_roles() -> dict[str, list[Permission]]:
    """The built-in roles: ``viewer``, ``operator``, ``investigator``, ``approver`` and ``admin``."""
    return {
        "viewer": list(_VIEWER),
        "operator": list(_OPERATOR),
        "investigator": list(_INVESTIGATOR),
        "approver": list(_APPROVER),
        "admin": list(Permission),
    }
