"""Read a hot segment file from a worker of another site over HTTP (signed links; see ``media.signing``).

:class:`WorkerSegmentStore` is one worker's media folder seen as a read-only object store whose keys are
segment paths; :class:`SiteSegmentStore` tries the live workers of a site in turn (the camera's lease holder
first), so :class:`~watchkeeper.media.protocol.SegmentFiles` reads another site's hot footage exactly as it
reads the warm tier: ranged reads, never a full download. Failures are typed: the file is not there
(``ObjectMissingError``), the worker refused the link (``ObjectStoreAuthError``), nobody answers
(``SiteUnavailableError``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx

from watchkeeper.media.protocol import (
    ObjectInfo,
    ObjectMissingError,
    ObjectStoreAuthError,
    ObjectStoreError,
    SiteUnavailableError,
)
from watchkeeper.media.signing import sign

PIECE = 256 * 1024


class WorkerSegmentStore:
    """One site worker's media folder, read-only, through its signed ``/internal/segments/`` route."""

    def __init__(
        self, base_url: str, secret: str, client: httpx.Client, clock: Callable[[], float] = time.time
    ) -> None:
        """Reach the worker at ``base_url`` (for example ``http://10.1.0.5:8081``) with ``client``."""
        self.base_url = base_url.rstrip("/")
        self._secret = secret
        self._client = client
        self._clock = clock

    def _url(self, key: str) -> str:
        return self.base_url + sign(self._secret, key, self._clock()).target

    def _check(self, response: httpx.Response, key: str) -> None:
        if response.status_code in (200, 206):
            return
        response.read()
        detail = _message(response)
        if response.status_code == 404:
            raise ObjectMissingError(f"{key} is not in the media folder of {self.base_url}")
        if response.status_code == 403:
            raise ObjectStoreAuthError(f"the worker at {self.base_url} refused the segment link: {detail}")
        raise SiteUnavailableError(f"the worker at {self.base_url} answered {response.status_code}: {detail}")

    def stat(self, key: str) -> ObjectInfo:
        """The file's size (one ranged GET of its first byte).

        Raises:
            ObjectMissingError: The worker has no such file.
            ObjectStoreAuthError: The worker refused the link.
            SiteUnavailableError: The worker does not answer, or failed.
        """
        try:
            response = self._client.get(self._url(key), headers={"Range": "bytes=0-0"})
        except httpx.HTTPError as err:
            raise SiteUnavailableError(f"the worker at {self.base_url} does not answer: {err}") from err
        self._check(response, key)
        total = response.headers.get("content-range", "").rpartition("/")[2]
        size = int(total) if total.isdigit() else int(response.headers.get("content-length", "0"))
        return ObjectInfo(key=key, size=size, etag=response.headers.get("etag", ""))

    def iter_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """The file's bytes ``[start, end)``, streamed (one ranged GET).

        Raises:
            ObjectMissingError: The worker has no such file.
            ObjectStoreAuthError: The worker refused the link.
            SiteUnavailableError: The worker does not answer, or failed (also part-way).
        """
        if end <= start:
            return
        try:
            with self._client.stream(
                "GET", self._url(key), headers={"Range": f"bytes={start}-{end - 1}"}
            ) as response:
                self._check(response, key)
                yield from response.iter_bytes(PIECE)
        except httpx.HTTPError as err:
            raise SiteUnavailableError(f"reading {key} from {self.base_url} failed: {err}") from err

    def put_file(self, key: str, path: Path, sha256: str) -> ObjectInfo:
        """Refused: another site's media folder is read-only here.

        Raises:
            ObjectStoreError: Always.
        """
        raise ObjectStoreError(
            f"cannot write {key}: a site worker's media folder is read-only to other nodes"
        )

    def delete(self, key: str) -> None:
        """Refused: another site's footage is deleted by that site's own retention.

        Raises:
            ObjectStoreError: Always.
        """
        raise ObjectStoreError(f"cannot delete {key}: another site's footage is deleted by that site")


class SiteSegmentStore:
    """The media folders of one site's live workers: each read goes to the first that has the file."""

    def __init__(self, site: str, workers: Sequence[WorkerSegmentStore]) -> None:
        """``workers`` in order of preference (the camera's lease holder first)."""
        self.site = site
        self._workers = list(workers)
        self._found: dict[str, WorkerSegmentStore] = {}

    def _owner(self, key: str) -> WorkerSegmentStore:
        found = self._found.get(key)
        if found is None:
            self.stat(key)
            found = self._found[key]
        return found

    def stat(self, key: str) -> ObjectInfo:
        """Size of the file on the first worker that has it.

        Raises:
            ObjectMissingError: No worker that answered has it.
            ObjectStoreAuthError: The workers refused the link (and none had the file).
            SiteUnavailableError: No worker of the site answers.
        """
        missing: ObjectMissingError | None = None
        failure: ObjectStoreError = SiteUnavailableError(f"site {self.site} has no live worker to ask")
        for worker in self._workers:
            try:
                info = worker.stat(key)
            except ObjectMissingError as err:
                missing = err
                continue
            except ObjectStoreError as err:
                failure = err
                continue
            self._found[key] = worker
            return info
        if missing is not None and not isinstance(failure, ObjectStoreAuthError):
            raise missing
        raise failure

    def iter_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``[start, end)`` from the worker that has the file.

        Raises:
            ObjectMissingError: No worker that answered has it.
            ObjectStoreError: The site's workers refused the link or do not answer.
        """
        yield from self._owner(key).iter_range(key, start, end)

    def put_file(self, key: str, path: Path, sha256: str) -> ObjectInfo:
        """Refused: another site's media folder is read-only here.

        Raises:
            ObjectStoreError: Always.
        """
        raise ObjectStoreError(f"cannot write {key}: site {self.site}'s media folder is read-only here")

    def delete(self, key: str) -> None:
        """Refused: another site's footage is deleted by that site's own retention.

        Raises:
            ObjectStoreError: Always.
        """
        raise ObjectStoreError(f"cannot delete {key}: site {self.site}'s footage is deleted by that site")


def _message(response: httpx.Response) -> str:
    """The ``error.message`` of a typed error body, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return response.text[:200]
