/**
 * Pure state logic of the console: merging events from polling and the
 * WebSocket, applying camera status changes, and finding the recording that
 * covers a moment.
 */
import type { CameraOut, EventOut, SegmentOut } from "../api/client";
import type { WsMessage } from "../api/ws";

/** The live event list keeps at most this many events. */
export const MAX_EVENTS = 200;

export interface ConsoleState {
  cameras: CameraOut[];
  events: EventOut[];
}

export type ConsoleAction =
  | { type: "cameras_loaded"; cameras: CameraOut[] }
  | { type: "events_loaded"; events: EventOut[] }
  | { type: "ws"; message: WsMessage };

export const INITIAL_STATE: ConsoleState = { cameras: [], events: [] };

function newestFirst(a: EventOut, b: EventOut): number {
  const byStart = Date.parse(b.start) - Date.parse(a.start);
  if (byStart !== 0) return byStart;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Of two versions of one event, the one to keep: an ended event never becomes ongoing again. */
function newerVersion(current: EventOut, incoming: EventOut): EventOut {
  if (current.end !== null && incoming.end === null) return current;
  return incoming;
}

/** Upserts `incoming` into `current` by id; returns newest first, capped at `cap`. */
export function mergeEvents(current: EventOut[], incoming: EventOut[], cap: number = MAX_EVENTS): EventOut[] {
  const byId = new Map<string, EventOut>();
  for (const event of current) byId.set(event.id, event);
  for (const event of incoming) {
    const existing = byId.get(event.id);
    byId.set(event.id, existing ? newerVersion(existing, event) : event);
  }
  return [...byId.values()].sort(newestFirst).slice(0, cap);
}

/** Applies a camera status if it is not older than the one we have. */
function withStatus(camera: CameraOut, status: CameraOut["status"]): CameraOut {
  if (Date.parse(status.since) < Date.parse(camera.status.since)) return camera;
  return { ...camera, status };
}

function camerasLoaded(current: CameraOut[], loaded: CameraOut[]): CameraOut[] {
  const known = new Map(current.map((camera) => [camera.id, camera]));
  const next = loaded.map((camera) => {
    const previous = known.get(camera.id);
    if (!previous) return camera;
    // A WebSocket update newer than this poll's snapshot wins.
    const merged = withStatus(camera, previous.status);
    // Unchanged cameras keep their object, so memoised lists and the map skip them.
    return JSON.stringify(merged) === JSON.stringify(previous) ? previous : merged;
  });
  const same = next.length === current.length && next.every((camera, index) => camera === current[index]);
  return same ? current : next;
}

export function consoleReducer(state: ConsoleState, action: ConsoleAction): ConsoleState {
  switch (action.type) {
    case "cameras_loaded":
      return { ...state, cameras: camerasLoaded(state.cameras, action.cameras) };
    case "events_loaded":
      return { ...state, events: mergeEvents(state.events, action.events) };
    case "ws": {
      const message = action.message;
      if (message.type === "event") {
        return { ...state, events: mergeEvents(state.events, [message.event]) };
      }
      if (message.type !== "camera_status") return state;
      const { camera_id: cameraId, status } = message;
      return {
        ...state,
        cameras: state.cameras.map((camera) => (camera.id === cameraId ? withStatus(camera, status) : camera)),
      };
    }
  }
}

/** The segment whose [start, end) contains `atIso`, or null. */
export function findCoveringSegment(segments: SegmentOut[], atIso: string): SegmentOut | null {
  const at = Date.parse(atIso);
  for (const segment of segments) {
    if (Date.parse(segment.start) <= at && at < Date.parse(segment.end)) return segment;
  }
  return null;
}
