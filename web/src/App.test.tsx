// @vitest-environment jsdom
// @vitest-environment-options {"url": "http://127.0.0.1:48173/"}
/**
 * Renders the whole console against a small local HTTP server that speaks the
 * API contract (canned data), the way the browser talks to the Python server.
 * Its WebSocket endpoint is a minimal RFC 6455 server (handshake + text
 * frames), refused unless a test turns it on.
 */
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { createHash } from "node:crypto";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { Duplex } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { App } from "./App";

const PORT = 48173;
const now = Date.now();
const at = (offsetS: number) => new Date(now + offsetS * 1000).toISOString();

const CAMERAS = [
  { id: "cam1", name: "Front door", site_id: "hq", position: null, status: { state: "streaming", since: at(-600), reason: "" } },
  {
    id: "cam2",
    name: "Loading bay",
    site_id: "depot",
    position: { lat: 1, lon: 2, heading_deg: null, fov_deg: null, floor: null },
    status: { state: "offline", since: at(-60), reason: "connection refused" },
  },
];
const segment = (id: number, startS: number) => ({
  id,
  camera_id: "cam1",
  start: at(startS),
  end: at(startS + 10),
  duration_s: 10,
  size_bytes: 1_500_000,
  video_codec: "h264",
  width: 1280,
  height: 720,
  media_url: `/api/recordings/${id}/media`,
});
const SEGMENTS = [segment(1, -40), segment(2, -30), segment(3, -20)];
const EVENTS = [
  { id: "ev2", camera_id: "cam2", kind: "object", start: at(-5), end: null, score: 0.9, label: "person" },
  { id: "ev1", camera_id: "cam1", kind: "motion", start: at(-25.5), end: at(-21), score: 0.4, label: "motion" },
];

const incident = (id: string, priority: string, createdS: number, state = "new") => ({
  id,
  type_code: "fire",
  category: "safety",
  title: `Incident ${id}`,
  state,
  priority,
  source: "operator",
  site_id: "hq",
  camera_ids: ["cam1"],
  lat: null,
  lon: null,
  created_at: at(createdS),
  updated_at: at(createdS),
  created_by: "admin",
  owner: null,
  assignee_user: null,
  assignee_team: null,
  alarm_count: 1,
  last_alarm_at: null,
  resolution: null,
  revision: 1,
  escalation_level: 0,
  next_escalation_at: null,
  allowed_actions: state === "new" ? ["acknowledge", "start", "resolve"] : ["start", "hold", "resolve"],
  has_caller: false,
});
let INCIDENTS = [incident("inc-low", "low", -300), incident("inc-high", "high", -60)];

let failEvents = false;
let acceptSockets = false;
const requests: string[] = [];
const sockets: Duplex[] = [];

/** Completes the WebSocket handshake (or refuses it) for `/api/ws`. */
function upgrade(req: IncomingMessage, socket: Duplex): void {
  const key = req.headers["sec-websocket-key"];
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  if (!acceptSockets || path !== "/api/ws" || typeof key !== "string") {
    socket.destroy();
    return;
  }
  const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  socket.on("error", () => undefined);
  sockets.push(socket);
}

/** Sends one unmasked text frame to every connected client. */
function push(message: unknown): void {
  const payload = Buffer.from(JSON.stringify(message));
  const header =
    payload.length < 126
      ? Buffer.from([0x81, payload.length])
      : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff]);
  for (const socket of sockets) socket.write(Buffer.concat([header, payload]));
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", `http://127.0.0.1:${PORT}`);
  requests.push(`${url.pathname}${url.search}`);
  if (url.pathname === "/api/health") return reply(res, 200, { status: "ok", version: "9.9.9" });
  if (url.pathname === "/api/cameras") return reply(res, 200, CAMERAS);
  if (url.pathname === "/api/events") {
    if (failEvents) return reply(res, 503, { error: { code: "unavailable", message: "event store is down" } });
    return reply(res, 200, EVENTS);
  }
  if (url.pathname === "/api/map/settings") {
    return reply(res, 200, { tile_url_template: "/tiles/{z}/{x}/{y}.png", attribution: "grid", offline_grid: true, max_zoom: 20 });
  }
  if (url.pathname === "/api/incidents") {
    return reply(res, 200, { items: INCIDENTS, total: INCIDENTS.length, limit: 500, offset: 0 });
  }
  const action = /^\/api\/incidents\/([^/]+)\/actions\/acknowledge$/.exec(url.pathname);
  if (action && req.method === "POST") {
    const found = INCIDENTS.find((item) => item.id === action[1]);
    if (!found) return reply(res, 404, { error: { code: "not_found", message: "no such incident" } });
    const updated = { ...found, state: "acknowledged", revision: found.revision + 1, allowed_actions: ["start", "hold", "resolve"] };
    INCIDENTS = INCIDENTS.map((item) => (item.id === updated.id ? updated : item));
    return reply(res, 200, updated);
  }
  if (url.pathname === "/api/recordings") {
    return reply(res, 200, url.searchParams.get("camera_id") === "cam1" ? SEGMENTS : []);
  }
  return reply(res, 404, { error: { code: "not_found", message: "no such thing" } });
}

let server: Server;

beforeAll(async () => {
  server = createServer(handle);
  server.on("upgrade", upgrade);
  await new Promise<void>((resolve) => server.listen(PORT, "127.0.0.1", resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

afterEach(() => {
  cleanup();
  failEvents = false;
  acceptSockets = false;
  requests.length = 0;
  INCIDENTS = [incident("inc-low", "low", -300), incident("inc-high", "high", -60)];
  for (const socket of sockets.splice(0)) socket.destroy();
});

describe("App", () => {
  it("shows cameras, recordings and events from the API", async () => {
    render(<App />);

    const cameraList = await screen.findByTestId("camera-list");
    await waitFor(() => expect(within(cameraList).getAllByTestId("camera-item")).toHaveLength(2));
    const [front, bay] = within(cameraList).getAllByTestId("camera-item");
    expect(front?.dataset.cameraId).toBe("cam1");
    expect(front?.textContent).toContain("Streaming");
    expect(bay?.textContent).toContain("Offline");
    expect(bay?.textContent).toContain("connection refused");

    // The first camera is selected: its segments are listed oldest first.
    await waitFor(() => expect(screen.getAllByTestId("recording-item")).toHaveLength(3));
    expect(screen.getAllByTestId("recording-item").map((el) => el.dataset.segmentId)).toEqual(["1", "2", "3"]);
    expect(requests.some((r) => r.startsWith("/api/recordings?camera_id=cam1"))).toBe(true);

    // Events newest on top, the ongoing one says so.
    await waitFor(() => expect(screen.getAllByTestId("event-item")).toHaveLength(2));
    const [ongoing, ended] = screen.getAllByTestId("event-item");
    expect(ongoing?.textContent).toContain("Loading bay");
    expect(ongoing?.textContent).toContain("ongoing");
    expect(ended?.textContent).toContain("Front door");
    expect(ended?.textContent).toContain("4.5 s");

    // No WebSocket server here: the indicator says so in words.
    await waitFor(() => expect(screen.getByTestId("ws-state").textContent).toBe("reconnecting"));
    expect(screen.getByText("v9.9.9")).toBeTruthy();
  });

  it("plays the segment covering an event's start when the event is clicked", async () => {
    render(<App />);
    await waitFor(() => expect(screen.getAllByTestId("event-item")).toHaveLength(2));
    fireEvent.click(screen.getAllByTestId("event-item")[1] as HTMLElement);

    // The <video> is re-created per segment, so look it up again each time.
    await waitFor(() => expect(screen.getByTestId("player").getAttribute("src")).toBe("/api/recordings/2/media"));
    expect(screen.getAllByTestId("event-item")[1]?.className).toContain("selected");
  });

  it("plays a segment chosen from the list", async () => {
    render(<App />);
    await waitFor(() => expect(screen.getAllByTestId("recording-item")).toHaveLength(3));
    fireEvent.click(screen.getAllByTestId("recording-item")[0] as HTMLElement);
    await waitFor(() => expect(screen.getByTestId("player").getAttribute("src")).toBe("/api/recordings/1/media"));
  });

  it("shows a readable banner when the API fails, and the rest still works", async () => {
    failEvents = true;
    render(<App />);
    const banner = await screen.findByTestId("error-banner");
    expect(banner.textContent).toContain("Events: event store is down");
    expect(screen.getByText(/No events yet/)).toBeTruthy();
    await waitFor(() => expect(screen.getAllByTestId("camera-item")).toHaveLength(2));
  });

  it("applies live WebSocket messages: new event on top, camera state change", async () => {
    acceptSockets = true;
    render(<App />);
    await waitFor(() => expect(screen.getByTestId("ws-state").textContent).toBe("live"));
    await waitFor(() => expect(screen.getAllByTestId("event-item")).toHaveLength(2));

    push({
      type: "event",
      state: "started",
      event: { id: "ev3", camera_id: "cam1", kind: "zone", start: at(-1), end: null, score: 1, label: "gate" },
    });
    await waitFor(() => expect(screen.getAllByTestId("event-item")).toHaveLength(3));
    const top = screen.getAllByTestId("event-item")[0];
    expect(top?.dataset.eventId).toBe("ev3");
    expect(top?.textContent).toContain("Zone");
    expect(top?.textContent).toContain("ongoing");

    push({ type: "event", state: "ended", event: { ...EVENTS[0], end: at(0) } });
    await waitFor(() => expect(screen.getAllByTestId("event-item")[1]?.textContent).toContain("5.0 s"));

    push({ type: "camera_status", camera_id: "cam1", status: { state: "stalled", since: at(0), reason: "no frames" } });
    await waitFor(() => expect(screen.getAllByTestId("camera-item")[0]?.textContent).toContain("Stalled"));

    // The server drops the link: the console says it is reconnecting.
    for (const socket of sockets.splice(0)) socket.destroy();
    await waitFor(() => expect(screen.getByTestId("ws-state").textContent).toBe("reconnecting"));
  });

  it("queues incidents by priority, adds pushed ones live and acknowledges from the queue", async () => {
    acceptSockets = true;
    render(<App />);
    await waitFor(() => expect(screen.getAllByTestId("incident-item")).toHaveLength(2));
    expect(screen.getAllByTestId("incident-item").map((el) => el.dataset.incidentId)).toEqual(["inc-high", "inc-low"]);
    await waitFor(() => expect(screen.getByTestId("ws-state").textContent).toBe("live"));
    expect(requests.some((r) => r.startsWith("/api/incidents?state=new"))).toBe(true);

    const { allowed_actions: _unused, ...head } = incident("inc-crit", "critical", -1);
    push({ type: "incident", cursor: 7, change: "created", actor: null, escalated_to: null, incident: head });
    await waitFor(() => expect(screen.getAllByTestId("incident-item")).toHaveLength(3));
    const top = screen.getAllByTestId("incident-item")[0] as HTMLElement;
    expect(top.dataset.incidentId).toBe("inc-crit");
    expect(top.textContent).toContain("Critical");
    expect(top.textContent).toContain("NEW");

    const high = screen.getAllByTestId("incident-item")[1] as HTMLElement;
    fireEvent.click(within(high).getByTestId("incident-action-acknowledge"));
    await waitFor(() =>
      expect(screen.getAllByTestId("incident-item")[1]?.dataset.state).toBe("acknowledged"),
    );
    expect(within(screen.getAllByTestId("incident-item")[1] as HTMLElement).getByTestId("incident-state").textContent).toContain(
      "Acknowledged",
    );
  });
});
