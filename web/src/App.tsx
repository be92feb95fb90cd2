import { useCallback, useMemo, useReducer, useRef, useState } from "react";

import {
  type EventOut,
  type SegmentOut,
  describeError,
  getHealth,
  listCameras,
  listEvents,
  listRecordings,
} from "./api/client";
import type { Me } from "./api/auth";
import { type LinkState, liveSocketUrl, useLiveSocket } from "./api/ws";
import { MANAGE_INTEGRATIONS } from "./api/webhooks";
import { CameraList } from "./components/CameraList";
import { DeadLetters } from "./components/DeadLetters";
import { ErrorBanner } from "./components/ErrorBanner";
import { EventList } from "./components/EventList";
import { type Playback, RecordingPanel } from "./components/RecordingPanel";
import { RetentionNote } from "./components/RetentionNote";
import { INITIAL_STATE, MAX_EVENTS, consoleReducer, findCoveringSegment } from "./lib/state";
import { usePoll } from "./lib/usePoll";

const CAMERA_POLL_MS = 10_000;
const EVENT_POLL_MS = 15_000;
const RECORDING_POLL_MS = 4_000;
const RECORDING_WINDOW_MS = 60 * 60 * 1000;
const RECORDING_LIMIT = 1000;
/** How far before an event's start a segment covering it may begin. */
const EVENT_LOOKBACK_MS = 10 * 60 * 1000;

const LINK_TEXT: Record<LinkState, string> = {
  connecting: "connecting",
  live: "live",
  reconnecting: "reconnecting",
};
const LINK_HELP: Record<LinkState, string> = {
  connecting: "Connecting to the server for live updates…",
  live: "Live: events and camera states update instantly.",
  reconnecting: "Connection lost; reconnecting. Lists still refresh every few seconds.",
};

interface SegmentState {
  cameraId: string | null;
  segments: SegmentOut[];
  loaded: boolean;
}

function isoAt(ms: number): string {
  return new Date(ms).toISOString();
}

export interface AppProps {
  /** The signed-in user (shown in the header with a sign-out button). */
  user?: Me | null;
  onLogout?: () => void;
}

export function App({ user = null, onLogout }: AppProps = {}) {
  const [state, dispatch] = useReducer(consoleReducer, INITIAL_STATE);
  const [camerasLoaded, setCamerasLoaded] = useState(false);
  const [selectedCameraId, setSelectedCameraId] = useState<string | null>(null);
  const [selectedEventId, setSelectedEventId] = useState<string | null>(null);
  const [recordings, setRecordings] = useState<SegmentState>({ cameraId: null, segments: [], loaded: false });
  const [playback, setPlayback] = useState<Playback | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [version, setVersion] = useState<string | null>(null);
  const lookup = useRef(0);

  const setError = useCallback((source: string, err: unknown | null) => {
    setErrors((current) => {
      if (err === null) {
        if (!(source in current)) return current;
        const next = { ...current };
        delete next[source];
        return next;
      }
      return { ...current, [source]: describeError(err) };
    });
  }, []);

  const cameraId = selectedCameraId ?? state.cameras[0]?.id ?? null;
  const camera = state.cameras.find((c) => c.id === cameraId) ?? null;

  usePoll(
    "health",
    60_000,
    (signal) => getHealth(signal),
    (health) => setVersion(health.version),
    () => undefined, // The other lists report an unreachable server.
  );
  usePoll(
    "cameras",
    CAMERA_POLL_MS,
    (signal) => listCameras(signal),
    (cameras) => {
      dispatch({ type: "cameras_loaded", cameras });
      setCamerasLoaded(true);
    },
    (err) => setError("Cameras", err),
  );
  usePoll(
    "events",
    EVENT_POLL_MS,
    (signal) => listEvents({ limit: MAX_EVENTS }, signal),
    (events) => dispatch({ type: "events_loaded", events }),
    (err) => setError("Events", err),
  );
  usePoll(
    cameraId,
    RECORDING_POLL_MS,
    (signal) =>
      listRecordings(
        { camera_id: cameraId ?? "", start: isoAt(Date.now() - RECORDING_WINDOW_MS), limit: RECORDING_LIMIT },
        signal,
      ),
    (segments) => setRecordings({ cameraId, segments, loaded: true }),
    (err) => setError("Recordings", err),
  );

  const link = useLiveSocket(liveSocketUrl(window.location), {
    onMessage: (message) => dispatch({ type: "ws", message }),
    onOpen: () => {
      // Catch up on whatever happened while the socket was down.
      listEvents({ limit: MAX_EVENTS }).then(
        (events) => dispatch({ type: "events_loaded", events }),
        (err: unknown) => setError("Events", err),
      );
      listCameras().then(
        (cameras) => dispatch({ type: "cameras_loaded", cameras }),
        (err: unknown) => setError("Cameras", err),
      );
    },
  });

  const segments = recordings.cameraId === cameraId ? recordings.segments : [];
  const segmentsLoaded = recordings.cameraId === cameraId && recordings.loaded;

  const selectCamera = (id: string) => {
    if (id === cameraId) return;
    lookup.current += 1;
    setSelectedCameraId(id);
    setSelectedEventId(null);
    setPlayback(null);
    setNotice(null);
  };

  const play = (segment: SegmentOut) => {
    lookup.current += 1;
    setNotice(null);
    setPlayback({ segment, offsetS: 0 });
  };

  const playNext = () => {
    if (!playback) return;
    const index = segments.findIndex((s) => s.id === playback.segment.id);
    const next = index >= 0 ? segments[index + 1] : undefined;
    if (next) setPlayback({ segment: next, offsetS: 0 });
  };

  const openEvent = async (event: EventOut) => {
    const ticket = ++lookup.current;
    setSelectedCameraId(event.camera_id);
    setSelectedEventId(event.id);
    setNotice("Looking for the recording of this event…");
    const at = Date.parse(event.start);
    try {
      const found = await listRecordings({
        camera_id: event.camera_id,
        start: isoAt(at - EVENT_LOOKBACK_MS),
        end: isoAt(at + 60_000),
        limit: RECORDING_LIMIT,
      });
      if (ticket !== lookup.current) return;
      const segment = findCoveringSegment(found, event.start);
      if (segment) {
        setPlayback({ segment, offsetS: Math.max(0, (at - Date.parse(segment.start)) / 1000) });
        setNotice(null);
      } else {
        setPlayback(null);
        setNotice(
          Date.now() - at < 60_000
            ? "The recording of this moment is still being written — click the event again in a few seconds."
            : "No recording covers the start of this event.",
        );
      }
    } catch (err) {
      if (ticket === lookup.current) setNotice(`Could not look up the recording: ${describeError(err)}`);
    }
  };

  const cameraNames = useMemo(() => new Map(state.cameras.map((c) => [c.id, c.name])), [state.cameras]);
  const errorList = Object.entries(errors).map(([source, message]) => `${source}: ${message}`);

  return (
    <div className="app">
      <header className="header">
        <h1>Watchkeeper</h1>
        <span className="muted small">{version ? `v${version}` : ""}</span>
        <RetentionNote />
        <span className={`link link-${link}`} title={LINK_HELP[link]}>
          <span className="dot" aria-hidden="true" />
          <span data-testid="ws-state" data-state={link}>
            {LINK_TEXT[link]}
          </span>
        </span>
        {user ? (
          <span className="user">
            <span data-testid="user-name" title={user.username}>
              {user.display_name}
            </span>
            {onLogout ? (
              <button type="button" className="logout" data-testid="logout" onClick={onLogout}>
                Sign out
              </button>
            ) : null}
          </span>
        ) : null}
      </header>
      <ErrorBanner errors={errorList} />
      <main className="layout">
        <CameraList cameras={state.cameras} loaded={camerasLoaded} selectedId={cameraId} onSelect={selectCamera} />
        <RecordingPanel
          camera={camera}
          segments={segments}
          loaded={segmentsLoaded}
          windowLabel="Last hour"
          playback={playback}
          notice={notice}
          onPlay={play}
          onEnded={playNext}
        />
        <EventList
          events={state.events}
          cameraNames={cameraNames}
          selectedId={selectedEventId}
          onSelect={(event) => void openEvent(event)}
        />
        {user?.permissions.includes(MANAGE_INTEGRATIONS) ? <DeadLetters /> : null}
      </main>
    </div>
  );
}
