"""Recording-gap, disk-full and tamper alarms, and the camera's place on incidents raised from a camera.

Real parts: a camera worker recording a simulated RTSP camera (recording gap), the tamper analysis of the
runtime on synthetic grey frames (tamper), a real 4 MiB volume filled by a file (disk full; skipped where
nothing can be mounted). Mocked, and why: the other disk-full tests use a free-space probe whose value the
test sets, to reach states a real volume reaches only slowly or by breaking it (unreadable volume,
repeated fill and free).
"""

from __future__ import annotations

import errno
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import wait_for
from tests.incidents.conftest import T0, Clock, Published, build_service, camera_worker
from tests.recorder.test_disk_full import small_volume  # noqa: F401 - the 4 MiB volume fixture
from watchkeeper.config.analytics import TamperConfig
from watchkeeper.config.incidents import IncidentsConfig, IncidentTypeConfig
from watchkeeper.domain import (
    Camera,
    CameraId,
    CameraState,
    CameraStatus,
    Event,
    EventKind,
    MapPosition,
    Segment,
    SiteId,
    utcnow,
)
from watchkeeper.domain.incidents import (
    AlarmSource,
    Incident,
    IncidentAction,
    IncidentCategory,
    IncidentQuery,
    IncidentState,
    Note,
)
from watchkeeper.incidents.equipment import DiskUsageProbe, RecordingGaps
from watchkeeper.incidents.service import Alarm, IncidentService
from watchkeeper.incidents.sources import AlarmSources
from watchkeeper.recorder.segmenter import DiskFullError, _write_error
from watchkeeper.runtime.analysis import TamperEvents
from watchkeeper.simulator import RtspServer
from watchkeeper.storage.protocols import Store

CAM = CameraId("a1")


def of_type(service: IncidentService, code: str) -> list[Incident]:
    return list(service.list(IncidentQuery(type_codes=frozenset({code}))).items)


def notes(service: IncidentService, incident_id: str) -> list[str]:
    return [note.text for note in service.detail(incident_id).notes if isinstance(note, Note)]


# -- recording gap ---------------------------------------------------------------------------------------


def test_a_streaming_camera_whose_segments_stop_arriving_raises_a_gap_closed_when_they_resume(
    own_camera: RtspServer, store: Store, tmp_path: Path
) -> None:
    """The worker streams and records for real; the test loses its segments for a while (index failing)."""
    published = Published()
    service = build_service(store, utcnow, published, IncidentsConfig(recording_gap_s=2))
    sources = AlarmSources(service, service.config)
    losing = threading.Event()
    segments: list[Segment] = []

    def on_segment(segment: Segment) -> None:
        segments.append(segment)
        if not losing.is_set():
            sources.on_segment(segment.camera_id, segment.start, segment.end)

    worker = camera_worker(own_camera.url("/cam1"), tmp_path, sources.on_camera_status, on_segment)
    worker.start()
    try:
        wait_for(lambda: len(segments) >= 2, timeout=30, what="recorded segments")
        assert sources.check_cameras() == 0  # recording normally: no gap
        losing.set()
        wait_for(lambda: sources.check_cameras() == 1, timeout=15, what="recording-gap alarm")
        assert sources.check_cameras() == 0  # one alarm per gap
        (incident,) = of_type(service, "RECORDING_GAP")
        assert incident.source is AlarmSource.EQUIPMENT
        assert incident.category is IncidentCategory.EQUIPMENT
        assert incident.camera_ids == ("a1",)
        assert incident.site_id == "a"
        assert "no footage recorded since" in notes(service, incident.id)[0]
        losing.clear()
        wait_for(
            lambda: service.get(incident.id).state is IncidentState.CLOSED, timeout=15, what="auto-close"
        )
    finally:
        worker.stop()
    detail = service.detail(incident.id)
    assert [(t.action, t.actor) for t in detail.transitions] == [
        (IncidentAction.RESOLVE, "system"),
        (IncidentAction.CLOSE, "system"),
    ]
    assert "recording again" in (detail.incident.resolution or "")


def test_a_gap_between_two_segments_found_after_the_fact_is_raised_with_its_range(
    service: IncidentService, clock: Clock
) -> None:
    sources = AlarmSources(service, IncidentsConfig(recording_gap_s=10))
    sources.on_segment(CAM, T0, T0 + timedelta(seconds=4))
    sources.on_segment(CAM, T0 + timedelta(seconds=4), T0 + timedelta(seconds=8))  # back to back
    assert of_type(service, "RECORDING_GAP") == []
    sources.on_segment(CAM, T0 + timedelta(seconds=68), T0 + timedelta(seconds=72))
    (incident,) = of_type(service, "RECORDING_GAP")
    assert incident.state is IncidentState.NEW  # found after the fact: someone should look
    (text,) = notes(service, incident.id)
    assert "to 2026-03-02T09:01:08+00:00 (60 s)" in text


def test_a_gap_while_the_camera_was_down_is_left_to_the_camera_offline_alarm(
    service: IncidentService,
) -> None:
    sources = AlarmSources(service, IncidentsConfig(recording_gap_s=10))
    sources.on_segment(CAM, T0, T0 + timedelta(seconds=4))
    sources.on_camera_status(CameraStatus(CAM, CameraState.OFFLINE, T0 + timedelta(seconds=5), "refused"))
    sources.on_camera_status(CameraStatus(CAM, CameraState.STREAMING, T0 + timedelta(seconds=60)))
    sources.on_segment(CAM, T0 + timedelta(seconds=61), T0 + timedelta(seconds=65))
    assert of_type(service, "RECORDING_GAP") == []


def test_a_camera_that_is_not_streaming_raises_no_live_gap(clock: Clock) -> None:
    gaps = RecordingGaps(timedelta(seconds=5))
    gaps.segment(CAM, T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=1))
    gaps.status(CameraStatus(CAM, CameraState.STALLED, T0 + timedelta(seconds=2), "no packets"))
    assert gaps.due(T0 + timedelta(seconds=60)) == []
    gaps.status(CameraStatus(CAM, CameraState.STREAMING, T0 + timedelta(seconds=60)))
    assert gaps.due(T0 + timedelta(seconds=64)) == []  # streaming again for only 4 s
    (gap,) = gaps.due(T0 + timedelta(seconds=66))
    assert gap.since == T0 + timedelta(seconds=60)


def test_a_recorder_lagging_behind_is_no_live_gap_while_its_segments_keep_arriving() -> None:
    gaps = RecordingGaps(timedelta(seconds=10))
    gaps.status(CameraStatus(CAM, CameraState.STREAMING, T0))
    for index in range(10):  # footage 30 s behind the clock, but a segment arrives every 4 s
        start = T0 + timedelta(seconds=4 * index)
        gaps.segment(CAM, start, start + timedelta(seconds=4), start + timedelta(seconds=34))
        assert gaps.due(start + timedelta(seconds=37)) == []
    assert gaps.due(T0 + timedelta(seconds=36 + 34 + 11)) != []  # then nothing arrives for 11 s


def test_segments_longer_than_the_gap_are_no_live_gap_until_two_lengths_pass() -> None:
    gaps = RecordingGaps(timedelta(seconds=10))
    gaps.status(CameraStatus(CAM, CameraState.STREAMING, T0))
    gaps.segment(CAM, T0, T0 + timedelta(seconds=30), T0 + timedelta(seconds=30))
    assert gaps.due(T0 + timedelta(seconds=30 + 59)) == []
    assert len(gaps.due(T0 + timedelta(seconds=30 + 61))) == 1


# -- disk full -------------------------------------------------------------------------------------------


class SetFreeSpace:
    """A free-space probe the test sets (see the module docstring for why it is not a real volume)."""

    def __init__(self, free: int) -> None:
        self.free: int | OSError = free

    @property
    def where(self) -> str:
        return "/media"

    def free_bytes(self) -> int:
        if isinstance(self.free, OSError):
            raise self.free
        return self.free

    def free_files(self) -> int | None:
        return None  # like a file system without an inode limit


def test_a_full_media_volume_raises_one_storage_incident_closed_when_space_is_back(
    service: IncidentService, clock: Clock, published: Published
) -> None:
    probe = SetFreeSpace(10_000_000)
    sources = AlarmSources(service, IncidentsConfig(storage_alarm_free_bytes=1_000_000), probe)
    assert sources.check_storage() is False
    probe.free = 200_000
    assert sources.check_storage() is True
    clock.advance(5)
    assert sources.check_storage() is False  # still full: no second incident
    (incident,) = of_type(service, "STORAGE_FAILURE")
    assert incident.camera_ids == ()
    assert "disk full: 200000 bytes free on /media" in notes(service, incident.id)[0]
    probe.free = 5_000_000
    clock.advance(5)
    assert sources.check_storage() is False
    closed = service.detail(incident.id)
    assert closed.incident.state is IncidentState.CLOSED
    assert "free space on /media is back" in (closed.incident.resolution or "")
    probe.free = 100
    assert sources.check_storage() is True  # full again later: a new incident
    assert len(of_type(service, "STORAGE_FAILURE")) == 2


def test_an_unreadable_media_volume_raises_a_storage_incident(service: IncidentService) -> None:
    probe = SetFreeSpace(0)
    probe.free = OSError(5, "Input/output error")
    sources = AlarmSources(service, IncidentsConfig(storage_alarm_free_bytes=0), probe)
    assert sources.check_storage() is True
    (incident,) = of_type(service, "STORAGE_FAILURE")
    assert "cannot read the free space of /media" in notes(service, incident.id)[0]


def test_a_real_volume_filling_up_raises_and_freeing_it_closes(
    small_volume: Path,  # noqa: F811 - the imported fixture
    service: IncidentService,
) -> None:
    sources = AlarmSources(
        service, IncidentsConfig(storage_alarm_free_bytes=1024 * 1024), DiskUsageProbe(small_volume)
    )
    assert sources.check_storage() is False
    filler = small_volume / "other-data.bin"
    filler.write_bytes(b"\0" * (3 * 1024 * 1024 + 512 * 1024))
    assert sources.check_storage() is True
    (incident,) = of_type(service, "STORAGE_FAILURE")
    assert f"on {small_volume}" in notes(service, incident.id)[0]
    filler.unlink()
    assert sources.check_storage() is False
    assert service.get(incident.id).state is IncidentState.CLOSED


@pytest.fixture
def few_inodes(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB tmpfs that holds at most 48 files: it runs out of inodes long before bytes."""
    target = tmp_path / "inodes"
    target.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,nr_inodes=48", "tmpfs", str(target)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({mounted.stderr.decode().strip()}): run as root")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def _fill_inodes(volume: Path) -> list[Path]:
    """Create one-byte files on ``volume`` until the file system refuses (ENOSPC); the files made."""
    made: list[Path] = []
    for index in range(100):
        path = volume / f"small-{index}"
        try:
            path.write_bytes(b"x")
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise
            return made
        made.append(path)
    raise AssertionError(f"{volume} never ran out of inodes")


def test_a_volume_out_of_inodes_raises_a_storage_incident_while_bytes_are_free(
    few_inodes: Path, service: IncidentService
) -> None:
    probe = DiskUsageProbe(few_inodes)
    sources = AlarmSources(service, IncidentsConfig(storage_alarm_free_bytes=1024 * 1024), probe)
    assert sources.check_storage() is False
    made = _fill_inodes(few_inodes)
    assert len(made) < 48
    assert probe.free_bytes() > 3 * 1024 * 1024  # bytes are free: only the inodes ran out
    assert sources.check_storage() is True
    (incident,) = of_type(service, "STORAGE_FAILURE")
    assert f"no inodes left: 0 files can still be created on {few_inodes}" in notes(service, incident.id)[0]
    for path in made[:20]:
        path.unlink(missing_ok=True)
    assert sources.check_storage() is False
    assert service.get(incident.id).state is IncidentState.CLOSED


def test_a_quota_error_counts_as_disk_full_for_the_recorder() -> None:
    quota = _write_error("writing seg.mp4.part", OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert isinstance(quota, DiskFullError)
    assert "disk full" in str(quota)
    other = _write_error("writing seg.mp4.part", OSError(errno.EIO, "Input/output error"))
    assert not isinstance(other, DiskFullError)


def test_the_disk_usage_probe_reads_a_real_folder_and_fails_on_a_missing_one(tmp_path: Path) -> None:
    assert DiskUsageProbe(tmp_path).free_bytes() > 0
    with pytest.raises(OSError, match="No such file"):
        DiskUsageProbe(tmp_path / "missing").free_bytes()


# -- tamper ----------------------------------------------------------------------------------------------


def scene(rng: np.random.Generator) -> np.ndarray:
    """A textured grey 160x90 scene with a little noise."""
    base = np.tile(np.linspace(40, 200, 160, dtype=np.float32), (90, 1))
    base[30:60, 50:110] = 220
    return np.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8)


def run_tamper(sources: AlarmSources, clock: Clock, frames: Iterator[np.ndarray], seconds: float) -> None:
    """Feed ``seconds`` of 5 fps frames through the runtime's tamper analysis into the alarm sources."""
    tamper = TamperEvents(CAM, TamperConfig(raise_s=1.0, clear_s=1.0))
    for _ in range(int(seconds * 5)):
        clock.advance(0.2)
        for change in tamper.update(next(frames), clock.now):
            sources.on_event(change.event, change.change.value)


def frames_of(rng: np.random.Generator, healthy_s: float, dark_s: float) -> Iterator[np.ndarray]:
    for _ in range(int(healthy_s * 5)):
        yield scene(rng)
    for _ in range(int(dark_s * 5)):
        yield np.full((90, 160), 5, dtype=np.uint8)
    while True:
        yield scene(rng)


def test_a_covered_camera_raises_camera_tampered_and_its_clearing_is_noted(
    service: IncidentService, clock: Clock
) -> None:
    sources = AlarmSources(service, service.config)
    run_tamper(sources, clock, frames_of(np.random.default_rng(1), healthy_s=5, dark_s=4), seconds=14)
    (incident,) = of_type(service, "CAMERA_TAMPERED")
    assert incident.source is AlarmSource.EQUIPMENT
    assert incident.camera_ids == ("a1",)
    assert incident.state is IncidentState.NEW  # a person verifies a tampered camera
    texts = notes(service, incident.id)
    assert "image too dark since" in texts[0]
    assert "image too dark cleared at" in texts[-1]
    assert len(service.detail(incident.id).attachments) == 1  # the tamper event


def test_camera_tampered_auto_closes_when_the_configuration_says_so(
    store: Store, clock: Clock, published: Published
) -> None:
    config = IncidentsConfig(
        types=[
            IncidentTypeConfig(
                code="CAMERA_TAMPERED",
                name="Camera tampered",
                category=IncidentCategory.EQUIPMENT,
                auto_close=True,
            )
        ]
    )
    service = build_service(store, clock, published, config)
    sources = AlarmSources(service, config)
    run_tamper(sources, clock, frames_of(np.random.default_rng(2), healthy_s=5, dark_s=4), seconds=14)
    (incident,) = of_type(service, "CAMERA_TAMPERED")
    assert incident.state is IncidentState.CLOSED
    assert "cleared at" in (incident.resolution or "")


# -- location --------------------------------------------------------------------------------------------


def test_an_alarm_from_a_placed_camera_carries_the_cameras_position_and_site(
    store: Store, service: IncidentService, clock: Clock
) -> None:
    position = MapPosition(lat=48.8566, lon=2.3522, heading_deg=90.0, fov_deg=60.0, floor="1")
    store.cameras.upsert(Camera(CameraId("a2"), "Camera a2", SiteId("a"), position))
    event = Event(
        id="ev-1",
        camera_id=CameraId("a2"),
        kind=EventKind.ZONE,
        start=clock.now,
        end=None,
        score=0.9,
        rule="gate-enter",
        zone="gate",
    )
    sources = AlarmSources(service, IncidentsConfig.model_validate({"analytics": [{"type": "BREAK_IN"}]}))
    sources.on_event(event, "started")
    (incident,) = of_type(service, "BREAK_IN")
    assert incident.site_id == "a"
    assert incident.location == MapPosition(lat=48.8566, lon=2.3522)


def test_an_explicit_alarm_location_wins_over_the_cameras_and_an_unplaced_camera_gives_none(
    store: Store, service: IncidentService, clock: Clock
) -> None:
    store.cameras.upsert(Camera(CameraId("a2"), "Camera a2", SiteId("a"), MapPosition(lat=1.0, lon=2.0)))
    point = MapPosition(lat=10.0, lon=20.0)
    kwargs = {"type_code": "GATE_OPEN", "source": AlarmSource.OPERATOR, "at": clock.now}
    placed = service.raise_alarm(Alarm(**kwargs, camera_id=CameraId("a2"), location=point))
    unplaced = service.raise_alarm(Alarm(**kwargs, camera_id=CameraId("b1")))
    assert service.get(placed.incident_id).location == point
    assert service.get(unplaced.incident_id).location is None
    assert service.get(unplaced.incident_id).site_id == "b"
