import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import { type CameraOut, describeError } from "../api/client";
import { type ExportOut, type TimelineOut, createExport, exportBundleUrl, getTimeline } from "../api/review";
import { REVIEW_MAX_CAMERAS } from "../lib/area";
import { SyncClock } from "../lib/syncClock";
import { snapToRecording, stepEvent } from "../lib/timeline";
import { type SyncTarget, SyncedVideo, steer } from "./PlaybackSync";
import { TimelineBar, spansOf } from "./TimelineBar";
import "./console-live.css";

const MAX_CAMERAS = REVIEW_MAX_CAMERAS;
const RANGES = [
  { label: "15 min", ms: 15 * 60_000 },
  { label: "1 hour", ms: 3_600_000 },
  { label: "6 hours", ms: 6 * 3_600_000 },
  { label: "24 hours", ms: 24 * 3_600_000 },
  { label: "7 days", ms: 7 * 24 * 3_600_000 },
] as const;
/** Playlists cover this much around the clock (a 7-day timeline does not load 7 days of segments). */
const WINDOW_BEFORE_MS = 30 * 60_000;
const WINDOW_AFTER_MS = 90 * 60_000;
const TICK_MS = 250;
const EXPORT_BEFORE_MS = 10_000;
const EXPORT_AFTER_MS = 20_000;

interface PlayWindow {
  startMs: number;
  endMs: number;
}

function windowAround(atMs: number, rangeStartMs: number, rangeEndMs: number): PlayWindow {
  return {
    startMs: Math.max(rangeStartMs, atMs - WINDOW_BEFORE_MS),
    endMs: Math.min(rangeEndMs, atMs + WINDOW_AFTER_MS),
  };
}

export interface ReviewPanelProps {
  cameras: CameraOut[];
  /** Cameras chosen first (from the URL or the rest of the console; at most four are taken). */
  initialCameraIds?: readonly string[];
  /** Moment to open at (epoch ms), e.g. an event found by search. */
  initialAtMs?: number | null;
}

/** Review: per-camera timelines, synchronized playback of up to 4 cameras, event stepping and clip export. */
export function ReviewPanel({ cameras, initialCameraIds = [], initialAtMs = null }: ReviewPanelProps) {
  const [selected, setSelected] = useState<string[]>(() => {
    if (initialCameraIds.length > 0) return [...new Set(initialCameraIds)].slice(0, MAX_CAMERAS);
    const first = cameras[0]?.id;
    return first ? [first] : [];
  });
  const [rangeMs, setRangeMs] = useState<number>(RANGES[0].ms);
  const [rangeEnd, setRangeEnd] = useState(() =>
    initialAtMs !== null && initialAtMs < Date.now() - RANGES[0].ms / 2 ? initialAtMs + RANGES[0].ms / 2 : Date.now(),
  );
  const rangeStart = rangeEnd - rangeMs;
  const [timelines, setTimelines] = useState<Record<string, TimelineOut>>({});
  const [error, setError] = useState<string | null>(null);
  const clock = useRef(new SyncClock(rangeStart));
  const [cursor, setCursor] = useState<number | null>(null);
  const [playing, setPlaying] = useState(false);
  const [playWindow, setPlayWindow] = useState<PlayWindow | null>(null);
  const targets = useRef(new Map<string, SyncTarget>());
  const [missing, setMissing] = useState<Set<string>>(new Set());

  useEffect(() => {
    if (selected.length === 0 && cameras[0]) setSelected([cameras[0].id]);
  }, [cameras, selected.length]);

  useEffect(() => {
    const controller = new AbortController();
    const start = new Date(rangeStart).toISOString();
    const end = new Date(rangeEnd).toISOString();
    Promise.all(selected.map((id) => getTimeline(id, start, end, controller.signal))).then(
      (found) => {
        setTimelines(Object.fromEntries(found.map((t) => [t.camera_id, t])));
        setError(null);
      },
      (err: unknown) => {
        if (!controller.signal.aborted) setError(describeError(err));
      },
    );
    return () => controller.abort();
  }, [selected, rangeStart, rangeEnd]);

  const spans = useMemo(() => selected.flatMap((id) => spansOf(timelines[id] ?? null)), [selected, timelines]);
  const eventStarts = useMemo(
    () => selected.flatMap((id) => (timelines[id]?.events ?? []).map((e) => Date.parse(e.start))),
    [selected, timelines],
  );

  const seek = useCallback(
    (wallMs: number) => {
      const at = snapToRecording(spans, wallMs) ?? wallMs;
      clock.current.seek(at);
      setCursor(at);
      setPlayWindow((current) =>
        current && at >= current.startMs && at < current.endMs ? current : windowAround(at, rangeStart, rangeEnd),
      );
    },
    [spans, rangeStart, rangeEnd],
  );

  useEffect(() => {
    const timer = setInterval(() => {
      const at = clock.current.wallMs;
      setMissing(steer(targets.current, at, clock.current.playing));
      if (clock.current.playing) {
        setCursor(at);
        setPlayWindow((current) =>
          current === null || (at >= current.startMs && at < current.endMs)
            ? current
            : windowAround(at, rangeStart, Math.max(rangeEnd, Date.now())),
        );
      }
    }, TICK_MS);
    return () => clearInterval(timer);
  }, [rangeStart, rangeEnd]);

  const opened = useRef(false);
  useEffect(() => {
    if (opened.current || initialAtMs === null || Object.keys(timelines).length === 0) return;
    opened.current = true;
    seek(initialAtMs);
  }, [initialAtMs, timelines, seek]);

  const play = () => {
    if (cursor === null) {
      const first = spans.length > 0 ? Math.min(...spans.map((s) => s.startMs)) : null;
      if (first === null) return;
      seek(first);
    }
    clock.current.play();
    setPlaying(true);
  };
  const pause = () => {
    clock.current.pause();
    setPlaying(false);
  };
  const step = (direction: 1 | -1) => {
    const next = stepEvent(eventStarts, cursor ?? rangeStart, direction);
    if (next !== null) seek(next);
  };
  const register = useCallback((cameraId: string, target: SyncTarget | null) => {
    if (target) targets.current.set(cameraId, target);
    else targets.current.delete(cameraId);
  }, []);
  const toggle = (id: string) => {
    setSelected((current) =>
      current.includes(id) ? current.filter((c) => c !== id) : [...current, id].slice(-MAX_CAMERAS),
    );
  };
  const names = new Map(cameras.map((c) => [c.id, c.name]));

  return (
    <section className="panel review" aria-labelledby="review-title" data-testid="review">
      <div className="live-toolbar">
        <h2 id="review-title">Review</h2>
        <div role="group" aria-label="Time range" className="segmented">
          {RANGES.map((range) => (
            <button
              key={range.ms}
              type="button"
              aria-pressed={range.ms === rangeMs}
              onClick={() => {
                setRangeMs(range.ms);
                setRangeEnd(Date.now());
              }}
            >
              {range.label}
            </button>
          ))}
        </div>
        <button type="button" className="logout" onClick={() => setRangeEnd(Date.now())}>
          Refresh
        </button>
      </div>
      <fieldset className="review-cameras">
        <legend className="small">Cameras (up to {MAX_CAMERAS}, played in sync)</legend>
        {cameras.map((camera) => (
          <label key={camera.id} className="small">
            <input
              type="checkbox"
              data-testid="review-camera"
              data-camera-id={camera.id}
              checked={selected.includes(camera.id)}
              onChange={() => toggle(camera.id)}
            />{" "}
            {camera.name}
          </label>
        ))}
      </fieldset>
      {error ? (
        <p className="notice" role="status">
          {error}
        </p>
      ) : null}
      <div className="timeline-axis">
        <span>{new Date(rangeStart).toLocaleString()}</span>
        <span>{new Date(rangeEnd).toLocaleString()}</span>
      </div>
      {selected.map((id) => (
        <TimelineBar
          key={id}
          label={names.get(id) ?? id}
          timeline={timelines[id] ?? null}
          rangeStartMs={rangeStart}
          rangeEndMs={rangeEnd}
          cursorMs={cursor}
          onSeek={seek}
        />
      ))}
      <div className="review-controls">
        <button type="button" className="logout" onClick={() => step(-1)} data-testid="prev-event">
          ◀ Previous event
        </button>
        {playing ? (
          <button type="button" className="logout" onClick={pause} data-testid="pause">
            Pause
          </button>
        ) : (
          <button type="button" className="logout" onClick={play} data-testid="play" disabled={spans.length === 0}>
            Play
          </button>
        )}
        <button type="button" className="logout" onClick={() => step(1)} data-testid="next-event">
          Next event ▶
        </button>
        <span className="clock" data-testid="review-clock" data-wall-ms={cursor === null ? "" : Math.round(cursor)}>
          {cursor === null ? "Click the timeline to choose a moment" : new Date(cursor).toLocaleString()}
        </span>
        {spans.length === 0 && Object.keys(timelines).length > 0 ? (
          <span className="small muted">Nothing recorded in this range.</span>
        ) : null}
      </div>
      {playWindow ? (
        <div className="sync-grid">
          {selected.map((id) => (
            <SyncedVideo
              key={id}
              cameraId={id}
              cameraName={names.get(id) ?? id}
              windowStartMs={playWindow.startMs}
              windowEndMs={playWindow.endMs}
              register={register}
              noFootage={missing.has(id)}
            />
          ))}
        </div>
      ) : null}
      <ExportForm cameraIds={selected} cursorMs={cursor} />
    </section>
  );
}

function ExportForm({ cameraIds, cursorMs }: { cameraIds: string[]; cursorMs: number | null }) {
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<ExportOut | null>(null);
  const [error, setError] = useState<string | null>(null);
  const submit = async () => {
    if (cursorMs === null) return;
    setBusy(true);
    setError(null);
    setDone(null);
    const start = new Date(cursorMs - EXPORT_BEFORE_MS).toISOString();
    const end = new Date(Math.min(Date.now(), cursorMs + EXPORT_AFTER_MS)).toISOString();
    try {
      setDone(await createExport(cameraIds, start, end, reason.trim()));
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  const ready = cursorMs !== null && cameraIds.length > 0 && reason.trim().length >= 5 && !busy;
  return (
    <form
      className="review-controls"
      aria-label="Export a clip"
      onSubmit={(event) => {
        event.preventDefault();
        void submit();
      }}
    >
      <label className="small">
        Reason for the export (audited){" "}
        <input
          value={reason}
          minLength={5}
          maxLength={2000}
          data-testid="export-reason"
          onChange={(event) => setReason(event.target.value)}
          placeholder="e.g. damage to gate, ticket 4411"
        />
      </label>
      <button type="submit" className="logout" disabled={!ready} data-testid="export-clip">
        {busy ? "Exporting…" : "Export 30 s clip (signed bundle)"}
      </button>
      {done ? (
        <a href={exportBundleUrl(done.id)} download data-testid="export-download">
          Download bundle {done.id}
        </a>
      ) : null}
      {error ? (
        <span className="notice" role="alert">
          {error}
        </span>
      ) : null}
    </form>
  );
}
