import { useEffect, useMemo, useState } from "react";

import { type CameraOut, type EventOut, describeError, listEvents } from "../api/client";
import { GRID_SIZES, type GridSize, fittingSize, gridColumns, gridPage, isGridSize } from "../lib/gridLayout";
import { type WebRtcInfo, getWebRtcInfo } from "../api/live";
import {
  type LiveTransport,
  type MediaCaps,
  chooseTransport,
  detectCaps,
  fallbackTransport,
  forcedTransport,
} from "../lib/liveTransport";
import { LivePlayer } from "./LivePlayer";
import { StateBadge } from "./StateBadge";
import "./console-live.css";

function browserCaps(): MediaCaps {
  if (typeof window === "undefined") return { mediaSource: false, webSocket: false, isTypeSupported: () => false, webRtc: false };
  return detectCaps(window as never);
}

/**
 * The transport live tiles start with: asks the server whether it offers WebRTC (when the browser has it);
 * `null` while asking. Also the ICE servers WebRTC should use.
 */
function useLiveTransport(caps: MediaCaps): { transport: LiveTransport | null; iceServers: RTCIceServer[] } {
  const [info, setInfo] = useState<WebRtcInfo | null | undefined>(caps.webRtc ? undefined : null);
  useEffect(() => {
    if (!caps.webRtc) return undefined;
    const controller = new AbortController();
    getWebRtcInfo(controller.signal).then(setInfo, () => undefined);
    return () => controller.abort();
  }, [caps]);
  if (info === undefined) return { transport: null, iceServers: [] };
  const forced = typeof window === "undefined" ? null : forcedTransport(window.location.search);
  const iceServers = (info?.ice_servers ?? []).map((s) => ({
    urls: s.urls,
    ...(s.username ? { username: s.username } : {}),
    ...(s.credential ? { credential: s.credential } : {}),
  }));
  return { transport: chooseTransport(caps, forced, info !== null), iceServers };
}

const TRANSPORT_LABELS: Record<LiveTransport, string> = { webrtc: "WebRTC", mse: "MSE", mjpeg: "MJPEG" };

function storedSize(count: number): GridSize {
  try {
    const saved = Number(window.localStorage.getItem("wk-grid"));
    if (isGridSize(saved)) return saved;
  } catch {
    // private mode
  }
  return fittingSize(count);
}

export interface LiveTileProps {
  camera: CameraOut;
  transport: LiveTransport;
  onOpen?: (cameraId: string) => void;
  large?: boolean;
  /** What the browser can do (for the fallback after a failed transport). */
  caps?: MediaCaps;
  iceServers?: RTCIceServer[];
}

/** One camera's live protected view with its name, state and time over the picture. */
export function LiveTile({ camera, transport, onOpen, large = false, caps, iceServers }: LiveTileProps) {
  const [mode, setMode] = useState<LiveTransport>(transport);
  const [frameAt, setFrameAt] = useState<Date | null>(null);
  const [now, setNow] = useState(() => new Date());
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => setMode(transport), [transport]);
  useEffect(() => {
    const timer = setInterval(() => setNow(new Date()), 1000);
    return () => clearInterval(timer);
  }, []);

  const failed = (reason: string) => {
    setProblem(reason);
    // WebRTC failed → MSE when playable; MSE failed (codec, decoder or stream) → MJPEG, which every browser shows.
    setMode((current) => (caps ? fallbackTransport(current, caps) : "mjpeg"));
  };
  const shown = mode === "mjpeg" ? now : frameAt;
  const body = (
    <>
      <LivePlayer
        key={mode}
        cameraId={camera.id}
        cameraName={camera.name}
        transport={mode}
        onFrame={(at) => {
          setFrameAt(at);
          setProblem(null);
        }}
        onFailed={failed}
        iceServers={iceServers}
      />
      <div className="live-overlay">
        <span className="live-name">{camera.name}</span>
        <StateBadge state={camera.status.state} />
        <time className="live-time" data-testid="live-time" dateTime={shown ? shown.toISOString() : undefined}>
          {shown ? shown.toLocaleTimeString() : "waiting for a picture…"}
        </time>
        <span className="live-transport small" title={problem ?? undefined}>
          {TRANSPORT_LABELS[mode]}
        </span>
      </div>
    </>
  );
  return (
    <figure
      className={`live-tile${large ? " live-tile-large" : ""}`}
      data-testid="live-tile"
      data-camera-id={camera.id}
      data-transport={mode}
    >
      {onOpen ? (
        <button
          type="button"
          className="live-open"
          aria-label={`Open ${camera.name}`}
          onClick={() => onOpen(camera.id)}
        >
          {body}
        </button>
      ) : (
        body
      )}
    </figure>
  );
}

export interface LiveGridProps {
  cameras: CameraOut[];
  /** Camera shown alone with its recent events (null: the grid). */
  focusId: string | null;
  onFocus: (cameraId: string | null) => void;
}

/** The live grid (1, 4, 9 or 16 cameras, paged), or one camera with its recent events. */
export function LiveGrid({ cameras, focusId, onFocus }: LiveGridProps) {
  const [size, setSize] = useState<GridSize>(() => storedSize(cameras.length));
  const [page, setPage] = useState(0);
  const caps = useMemo(browserCaps, []);
  const { transport, iceServers } = useLiveTransport(caps);
  const grid = gridPage(cameras, size, page);
  const focus = cameras.find((c) => c.id === focusId) ?? null;

  const choose = (next: GridSize) => {
    setSize(next);
    setPage(0);
    try {
      window.localStorage.setItem("wk-grid", String(next));
    } catch {
      // private mode: the choice lasts for this page only
    }
  };

  if (focus) {
    return (
      <section className="panel live-focus" aria-labelledby="live-focus-title" data-testid="live-focus">
        <div className="live-toolbar">
          <button type="button" className="logout" onClick={() => onFocus(null)} data-testid="live-back">
            ← Back to the grid
          </button>
          <h2 id="live-focus-title">{focus.name}</h2>
        </div>
        <div className="live-focus-body">
          {transport ? (
            <LiveTile camera={focus} transport={transport} caps={caps} iceServers={iceServers} large />
          ) : (
            <p className="small muted">Connecting…</p>
          )}
          <RecentEvents cameraId={focus.id} />
        </div>
      </section>
    );
  }
  return (
    <section className="panel live-grid-panel" aria-labelledby="live-title" data-testid="live-grid">
      <div className="live-toolbar">
        <h2 id="live-title">Live</h2>
        <div role="group" aria-label="Layout" className="segmented">
          {GRID_SIZES.map((option) => (
            <button
              key={option}
              type="button"
              aria-pressed={option === size}
              data-testid={`grid-${option}`}
              onClick={() => choose(option)}
            >
              {option}
            </button>
          ))}
        </div>
        {grid.pages > 1 ? (
          <span className="pager">
            <button type="button" className="logout" disabled={grid.page === 0} onClick={() => setPage(grid.page - 1)}>
              ‹
            </button>
            <span className="small">
              page {grid.page + 1} of {grid.pages}
            </span>
            <button
              type="button"
              className="logout"
              disabled={grid.page >= grid.pages - 1}
              onClick={() => setPage(grid.page + 1)}
            >
              ›
            </button>
          </span>
        ) : null}
        <span className="small muted">
          Protected view (people blurred) · {transport === "mjpeg" ? "picture stream" : "low-latency video"}
        </span>
      </div>
      {cameras.length === 0 ? (
        <p className="empty">No cameras yet.</p>
      ) : transport === null ? (
        <p className="small muted">Connecting…</p>
      ) : (
        <div className={`live-grid live-grid-${gridColumns(size)}`} data-size={size}>
          {grid.tiles.map((camera, index) =>
            camera ? (
              <LiveTile
                key={camera.id}
                camera={camera}
                transport={transport}
                caps={caps}
                iceServers={iceServers}
                onOpen={onFocus}
              />
            ) : (
              <div key={`empty-${index}`} className="live-tile live-empty" aria-hidden="true" />
            ),
          )}
        </div>
      )}
    </section>
  );
}

function RecentEvents({ cameraId }: { cameraId: string }) {
  const [events, setEvents] = useState<EventOut[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    const load = () =>
      listEvents({ camera_id: cameraId, limit: 20 }, controller.signal).then(
        (found) => {
          setEvents(found);
          setError(null);
        },
        (err: unknown) => {
          if (!controller.signal.aborted) setError(describeError(err));
        },
      );
    void load();
    const timer = setInterval(() => void load(), 10_000);
    return () => {
      controller.abort();
      clearInterval(timer);
    };
  }, [cameraId]);
  return (
    <section className="live-events" aria-label="Recent events" data-testid="live-events">
      <h3>Recent events</h3>
      {error ? <p className="notice">{error}</p> : null}
      {events === null ? (
        <p className="empty">Loading…</p>
      ) : events.length === 0 ? (
        <p className="empty">No events from this camera yet.</p>
      ) : (
        <ul className="list small">
          {events.map((event) => (
            <li key={event.id} className="live-event">
              {event.snapshot_url ? <img src={event.snapshot_url} alt="" className="thumb" loading="lazy" /> : null}
              <span>
                {event.kind} · {event.label} · {new Date(event.start).toLocaleTimeString()}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
