"""Configuration edits reach every node: the editing node announces them, the others re-read and apply.

An edit through one node's console (``api`` or ``all``) is written to the configuration file and applied
there (``Runtime.apply_config``); the node then publishes a :class:`ConfigChangedMessage` with the SHA-256
of the file as written. Every other node (API nodes and workers alike) has a :class:`ConfigFollower` on an
ephemeral subscription (each node gets every announcement): it re-reads its own configuration file and,
when the file hashes to the announced fingerprint (one host, or a folder every host mounts), loads it and
applies it through the same ``Runtime.apply_config`` as the editing node. A file that differs (a copy on
another host that was not updated) is not applied and logged with both fingerprints; an announcement of a
file this node applied already (its own, or a repeat) changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchkeeper.bus.messages import ConfigChangedMessage
from watchkeeper.bus.protocol import Bus, Subscription
from watchkeeper.config.errors import ConfigError
from watchkeeper.config.loader import load_config
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.domain import WatchkeeperError, utcnow

log = logging.getLogger(__name__)

CONFIG_SUBJECT = "wk.config.changed"

Apply = Callable[[WatchkeeperConfig, str | None], Awaitable[None]]
"""Applies a configuration and the camera the edit was about (``Runtime.apply_config``)."""


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of the configuration file's bytes.

    Raises:
        OSError: The file cannot be read.
    """
    return hashlib.sha256(path.read_bytes()).hexdigest()


def announcement(node_id: str, path: Path, summary: str, camera_id: str | None) -> ConfigChangedMessage:
    """What the editing node publishes after it applied an edit of ``path``.

    Raises:
        OSError: The file cannot be read.
    """
    return ConfigChangedMessage(
        origin=node_id, summary=summary, camera_id=camera_id, sha256=file_sha256(path), at=utcnow()
    )


class ConfigFollower:
    """Applies configuration edits announced by other nodes (start/stop on the bus's event loop)."""

    def __init__(self, bus: Bus, node_id: str, path: Path, apply: Apply) -> None:
        """Follow announcements on ``bus`` not sent by ``node_id``; re-read ``path``; apply with ``apply``."""
        self._bus = bus
        self._node_id = node_id
        self._path = path
        self._apply = apply
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self.applied_sha256: str | None = None
        """The fingerprint of the file this node runs now (None: as it was at start, not yet hashed)."""

    async def start(self) -> None:
        """Subscribe (announcements from now on; the file as it is now is what this node started with).

        Raises:
            BusError: The bus refused the subscription.
        """
        with contextlib.suppress(OSError):
            self.applied_sha256 = await asyncio.to_thread(file_sha256, self._path)
        self._subscription = await self._bus.subscribe(CONFIG_SUBJECT)
        self._task = asyncio.create_task(self._run(self._subscription), name="config-follower")

    async def stop(self) -> None:
        """Stop following."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._subscription is not None:
            with contextlib.suppress(WatchkeeperError):
                await self._subscription.close()
            self._subscription = None

    async def _run(self, subscription: Subscription) -> None:
        async for message in subscription:
            if not isinstance(message, ConfigChangedMessage) or message.origin == self._node_id:
                continue
            try:
                await self.follow(message)
            except WatchkeeperError as err:  # a camera that cannot restart, a lease server away: logged
                log.warning(
                    "configuration change %r from node %s not applied: %s",
                    message.summary,
                    message.origin,
                    err,
                )
            except Exception:  # a bug must not end following: later edits still reach this node
                log.exception(
                    "configuration change %r from node %s failed to apply", message.summary, message.origin
                )

    async def follow(self, message: ConfigChangedMessage) -> bool:
        """Re-read the file and apply it when it is the announced one; True when it was applied.

        Raises:
            WatchkeeperError: Applying failed (the file is taken; a later announcement tries again).
        """
        if message.sha256 == self.applied_sha256:
            return False
        try:
            found = await asyncio.to_thread(file_sha256, self._path)
        except OSError as err:
            log.error(  # noqa: TRY400 - one line
                "configuration change from node %s: cannot read %s: %s", message.origin, self._path, err
            )
            return False
        if found != message.sha256:
            log.warning(
                "configuration change %r from node %s not applied: %s here is not the edited file "
                "(SHA-256 %s..., announced %s...); give every node the same file, or copy it and restart",
                message.summary,
                message.origin,
                self._path,
                found[:12],
                message.sha256[:12],
            )
            return False
        try:
            config = await asyncio.to_thread(load_config, self._path)
        except ConfigError as err:
            log.error("configuration change from node %s not applied: %s", message.origin, err)  # noqa: TRY400
            return False
        self.applied_sha256 = found
        await self._apply(config, message.camera_id)
        log.info("configuration change %r from node %s applied", message.summary, message.origin)
        return True
