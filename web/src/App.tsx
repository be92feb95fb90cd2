import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";

import {
  type CameraOut,
  type EventOut,
  type IncidentOut,
  type MapSettingsOut,
  type SegmentOut,
  describeError,
  getHealth,
  getMapSettings,
  listCameras,
  listEvents,
  listIncidents,
  listRecordings,
} from "./api/client";
import type { Me } from "./api/auth";
import { type BreakGlassMessage, type LinkState, liveSocketUrl, useLiveSocket } from "./api/ws";
import { MANAGE_INTEGRATIONS } from "./api/webhooks";
import { AreaBar } from "./components/AreaBar";
import { CameraList } from "./components/CameraList";
import { DeadLetters } from "./components/DeadLetters";
import { BreakGlassAlerts } from "./components/BreakGlassAlerts";
import { ErrorBanner } from "./components/ErrorBanner";
import { EventList } from "./components/EventList";
import { IncidentPage } from "./components/IncidentPage";
import { IncidentQueue } from "./components/IncidentQueue";
import { LiveGrid } from "./components/LiveGrid";
import { LiveView } from "./components/LiveView";
import { MapView } from "./components/MapView";
import { type Playback, RecordingPanel } from "./components/RecordingPanel";
import { RetentionNote } from "./components/RetentionNote";
import { ReviewPanel } from "./components/ReviewPanel";
import { SearchPanel } from "./components/SearchPanel";
import { SettingsPage } from "./components/Settings/SettingsPage";
import { MANAGE_CONFIG, MANAGE_USERS } from "./api/settings";
import type { MapArea } from "./lib/area";
import { splitPlaced } from "./lib/geo";
import { INITIAL_INCIDENTS, OPEN_STATES, incidentsReducer } from "./lib/incidents";
import { type ViewName, reviewRoute, viewOf } from "./lib/routes";
import { INITIAL_STATE, MAX_EVENTS, consoleReducer, findCoveringSegment } from "./lib/state";
import { useAreaFilter } from "./lib/useAreaFilter";
import { useHashRoute } from "./lib/useHashRoute";
import { useIncidentOps } from "./lib/useIncidentOps";
import { usePoll } from "./lib/usePoll";

const CAMERA_POLL_MS = 10_000;
const EVENT_POLL_MS = 15_000;
const INCIDENT_POLL_MS = 20_000;
const INCIDENT_LIMIT = 500;
/** Used when the server does not say (an older server): its own offline grid. */
const DEFAULT_MAP: MapSettingsOut = {
  tile_url_template: "/tiles/{z}/{x}/{y}.png",
  attribution: "Offline grid basemap",
  offline_grid: true,
  max_zoom: 20,
};
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
  const [breakGlass, setBreakGlass] = useState<BreakGlassMessage[]>([]);
  const [version, setVersion] = useState<string | null>(null);
  const lookup = useRef(0);
  const [incidents, dispatchIncidents] = useReducer(incidentsReducer, INITIAL_INCIDENTS);
  const [mapSettings, setMapSettings] = useState<MapSettingsOut | null>(null);
  const [route, navigate] = useHashRoute();
  const cursor = useRef<number | null>(null);
  cursor.current = incidents.cursor;
  const onIncidentUpdated = useCallback((incident: IncidentOut) => dispatchIncidents({ type: "updated", incident }), []);
  const ops = useIncidentOps(onIncidentUpdated);

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

  // With an area chosen on the map, the lists show only the cameras inside it (and their events, recordings).
  const shown = useAreaFilter(state.cameras, state.events, setError);
  const area = shown.area;
  const cameraId =
    selectedCameraId !== null && shown.ids.has(selectedCameraId) ? selectedCameraId : (shown.cameras[0]?.id ?? null);
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
    "map-settings",
    3_600_000,
    (signal) => getMapSettings(signal),
    (settings) => setMapSettings(settings),
    () => setMapSettings((current) => current ?? DEFAULT_MAP),
  );
  const loadIncidents = useCallback(
    (signal?: AbortSignal) => {
      const requestedAt = Date.now();
      return listIncidents({ state: [...OPEN_STATES], limit: INCIDENT_LIMIT }, signal).then((page) => ({
        page,
        requestedAt,
      }));
    },
    [],
  );
  usePoll(
    "incidents",
    INCIDENT_POLL_MS,
    (signal) => loadIncidents(signal),
    ({ page, requestedAt }) => dispatchIncidents({ type: "loaded", incidents: page.items, requestedAt }),
    (err) => setError("Incidents", err),
  );
  const reloadIncidents = useCallback(() => {
    loadIncidents().then(
      ({ page, requestedAt }) => dispatchIncidents({ type: "loaded", incidents: page.items, requestedAt }),
      (err: unknown) => setError("Incidents", err),
    );
  }, [loadIncidents, setError]);
  useEffect(() => {
    if (incidents.resync > 0) reloadIncidents();
  }, [incidents.resync, reloadIncidents]);

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
    onMessage: (message) => {
      if (message.type === "incident" || message.type === "cursor") dispatchIncidents({ type: "ws", message });
      else if (message.type === "break_glass") setBreakGlass((alerts) => [...alerts, message]);
      else dispatch({ type: "ws", message });
    },
    since: () => (cursor.current === null ? "now" : String(cursor.current)),
    onOpen: () => {
      if (cursor.current === null) reloadIncidents();
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

  // Stable between renders so the memoised camera list does not re-render on every poll.
  const selectCamera = useCallback(
    (id: string) => {
      if (id === cameraId) return;
      lookup.current += 1;
      setSelectedCameraId(id);
      setSelectedEventId(null);
      setPlayback(null);
      setNotice(null);
    },
    [cameraId],
  );

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

  const setShownArea = shown.setArea;
  const changeArea = useCallback(
    (next: MapArea | null) => {
      setShownArea(next);
      setSelectedEventId(null);
    },
    [setShownArea],
  );

  const cameraNames = useMemo(() => new Map(state.cameras.map((c) => [c.id, c.name])), [state.cameras]);
  const { unplaced } = useMemo(() => splitPlaced(state.cameras), [state.cameras]);
  const peekEvents = useMemo(
    () => state.events.filter((event) => event.camera_id === cameraId).slice(0, 5),
    [state.events, cameraId],
  );
  const me = user?.username ?? null;
  const openIncident = (id: string) => {
    dispatchIncidents({ type: "seen", id });
    navigate(`/incident/${encodeURIComponent(id)}`);
  };
  const pageId = route.startsWith("/incident/") ? decodeURIComponent(route.slice("/incident/".length)) : null;
  const view = viewOf(route);
  const pageRevision = incidents.items.find((item) => item.id === pageId)?.revision ?? null;
  const errorList = Object.entries(errors).map(([source, message]) => `${source}: ${message}`);

  return (
    <div className="app">
      <header className="header">
        <h1>Watchkeeper</h1>
        <span className="muted small">{version ? `v${version}` : ""}</span>
        <ViewNav current={view.name} />
        <RetentionNote />
        <ThemeToggle />
        {user?.permissions.some((p) => p === MANAGE_CONFIG || p === MANAGE_USERS) ? (
          <button type="button" className="logout" data-testid="settings-open" aria-current={route === "/settings" ? "page" : undefined} onClick={() => navigate("/settings")}>
            Settings
          </button>
        ) : null}
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
      <BreakGlassAlerts
        alerts={breakGlass}
        onDismiss={(grantId) => setBreakGlass((alerts) => alerts.filter((alert) => alert.grant_id !== grantId))}
      />
      {view.name === "live" ? (
        <main className="view-main">
          <LiveGrid
            cameras={state.cameras}
            focusId={view.cameraId}
            onFocus={(id) => navigate(id ? `/live/${encodeURIComponent(id)}` : "/live")}
          />
        </main>
      ) : view.name === "review" ? (
        <main className="view-main">
          <ReviewPanel
            key={`${view.cameraIds.join(",")}@${view.atMs ?? ""}`}
            cameras={state.cameras}
            initialCameraIds={view.cameraIds}
            initialAtMs={view.atMs}
          />
        </main>
      ) : view.name === "search" ? (
        <main className="view-main">
          <SearchPanel
            cameras={state.cameras}
            settings={mapSettings}
            onOpenEvent={(event) => navigate(reviewRoute([event.camera_id], Date.parse(event.start)))}
          />
        </main>
      ) : route === "/settings" && user ? (
        <main className="settings-main">
          <SettingsPage permissions={user.permissions} me={me} onBack={() => navigate("/")} />
        </main>
      ) : pageId !== null ? (
        <main className="incident-main">
          <IncidentPage
            id={pageId}
            revision={pageRevision}
            cameras={state.cameras}
            settings={mapSettings}
            me={me}
            ops={ops}
            onBack={() => navigate("/")}
          />
        </main>
      ) : (
      <>
      <section className="ops" aria-label="Map and incidents">
        <div className="map-column">
          <MapView
            cameras={state.cameras}
            incidents={incidents.items}
            settings={mapSettings}
            selectedCameraId={cameraId}
            onCameraClick={selectCamera}
            onIncidentClick={openIncident}
            area={area}
            areaCameraCount={shown.cameras.length}
            onAreaChange={changeArea}
          />
          <div className="map-strip">
            <CameraPeek camera={camera} events={peekEvents} />
            <section className="panel unplaced" aria-labelledby="unplaced-title" data-testid="unplaced-cameras">
              <h2 id="unplaced-title">Not placed on the map</h2>
              {unplaced.length === 0 ? (
                <p className="empty">Every camera has a map position.</p>
              ) : (
                <ul className="list">
                  {unplaced.map((c) => (
                    <li key={c.id}>
                      <button type="button" className="link-button" onClick={() => selectCamera(c.id)}>
                        {c.name}
                      </button>{" "}
                      <span className="small muted">({c.status.state})</span>
                    </li>
                  ))}
                </ul>
              )}
            </section>
          </div>
        </div>
        <IncidentQueue
          items={incidents.items}
          loaded={incidents.loaded}
          fresh={incidents.fresh}
          cameraNames={cameraNames}
          me={me}
          ops={ops}
          onOpen={openIncident}
          onSeen={(id) => dispatchIncidents({ type: "seen", id })}
        />
      </section>
      {area ? (
        <AreaBar
          inside={shown.cameras}
          total={state.cameras.length}
          selectedId={cameraId}
          onClear={() => changeArea(null)}
        />
      ) : null}
      <main className="layout">
        <CameraList
          cameras={shown.cameras}
          loaded={camerasLoaded}
          selectedId={cameraId}
          onSelect={selectCamera}
          emptyText={area ? "No camera is placed inside the selected area." : undefined}
        />
        <RecordingPanel
          camera={camera}
          segments={segments}
          loaded={segmentsLoaded}
          windowLabel="Last hour"
          playback={playback}
          notice={notice}
          onPlay={play}
          onEnded={playNext}
          emptyText={area ? "No camera is placed inside the selected area." : undefined}
        />
        <EventList
          events={shown.events}
          cameraNames={cameraNames}
          selectedId={selectedEventId}
          onSelect={(event) => void openEvent(event)}
          emptyText={area ? "No events from the cameras in the selected area yet." : undefined}
        />
        {user?.permissions.includes(MANAGE_INTEGRATIONS) ? <DeadLetters /> : null}
      </main>
      </>
      )}
    </div>
  );
}

function CameraPeek({ camera, events }: { camera: CameraOut | null; events: EventOut[] }) {
  if (!camera) {
    return (
      <section className="panel peek">
        <p className="empty">Click a camera on the map for its live view.</p>
      </section>
    );
  }
  return (
    <section className="panel peek" aria-labelledby="peek-title" data-testid="camera-peek" data-camera-id={camera.id}>
      <h2 id="peek-title">{camera.name}</h2>
      <LiveView cameraId={camera.id} cameraName={camera.name} />
      <ul className="list small">
        {events.map((event) => (
          <li key={event.id}>
            {event.kind} · {event.label} · {new Date(event.start).toLocaleTimeString()}
          </li>
        ))}
      </ul>
      {events.length === 0 ? <p className="empty small">No recent events from this camera.</p> : null}
    </section>
  );
}

const VIEWS: { name: ViewName; label: string; href: string }[] = [
  { name: "overview", label: "Overview", href: "#/" },
  { name: "live", label: "Live", href: "#/live" },
  { name: "review", label: "Review", href: "#/review" },
  { name: "search", label: "Search", href: "#/search" },
];

function ViewNav({ current }: { current: ViewName }) {
  return (
    <nav className="view-nav" aria-label="Views">
      {VIEWS.map((item) => (
        <a key={item.name} href={item.href} aria-current={item.name === current ? "page" : undefined} data-testid={`nav-${item.name}`}>
          {item.label}
        </a>
      ))}
    </nav>
  );
}

type Theme = "dark" | "light";

function storedTheme(): Theme {
  try {
    return window.localStorage.getItem("wk-theme") === "light" ? "light" : "dark";
  } catch {
    return "dark";
  }
}

/** Dark (control rooms, the default) or light theme; remembered in this browser. */
function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(storedTheme);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    try {
      window.localStorage.setItem("wk-theme", theme);
    } catch {
      // Private mode: the choice lasts for this page only.
    }
  }, [theme]);
  return (
    <button
      type="button"
      className="logout"
      data-testid="theme-toggle"
      aria-pressed={theme === "dark"}
      onClick={() => setTheme(theme === "dark" ? "light" : "dark")}
    >
      {theme === "dark" ? "Light theme" : "Dark theme"}
    </button>
  );
}
