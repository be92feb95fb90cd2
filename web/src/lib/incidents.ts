/**
 * Pure logic of the incident queue: which incidents it holds, their order,
 * and how HTTP snapshots and WebSocket pushes are merged (by revision).
 */
import type { IncidentAction, IncidentOut, IncidentState, Priority } from "../api/client";
import type { CursorMessage, IncidentMessage, WsIncidentHead } from "../api/ws";

/** An incident in the queue: its head plus the workflow actions its state allows. */
export type QueueItem = WsIncidentHead & { allowed_actions: IncidentAction[] };

export const OPEN_STATES: readonly IncidentState[] = ["new", "acknowledged", "in_progress", "on_hold"];
const OPEN = new Set<IncidentState>(OPEN_STATES);

export const PRIORITY_RANK: Record<Priority, number> = { critical: 1, high: 2, medium: 3, low: 4 };
export const PRIORITIES: readonly Priority[] = ["critical", "high", "medium", "low"];

export const STATE_LABELS: Record<IncidentState, string> = {
  new: "New",
  acknowledged: "Acknowledged",
  in_progress: "In progress",
  on_hold: "On hold",
  resolved: "Resolved",
  closed: "Closed",
};

export const PRIORITY_LABELS: Record<Priority, string> = {
  critical: "Critical",
  high: "High",
  medium: "Medium",
  low: "Low",
};

export const ACTION_LABELS: Record<IncidentAction, string> = {
  acknowledge: "Acknowledge",
  start: "Start",
  hold: "Hold",
  resume: "Resume",
  resolve: "Resolve",
  close: "Close",
  reopen: "Reopen",
};

/** The server's state machine (watchkeeper/domain/incidents.py), for heads pushed without `allowed_actions`. */
const TRANSITIONS: Record<IncidentState, IncidentAction[]> = {
  new: ["acknowledge", "start", "resolve"],
  acknowledged: ["start", "hold", "resolve"],
  in_progress: ["hold", "resolve"],
  on_hold: ["resume", "resolve"],
  resolved: ["close", "reopen"],
  closed: ["reopen"],
};

export function allowedActions(state: IncidentState): IncidentAction[] {
  return [...TRANSITIONS[state]];
}

export function isOpen(state: IncidentState): boolean {
  return OPEN.has(state);
}

/** A queue item from a full incident (HTTP). */
export function fromIncident(incident: IncidentOut): QueueItem {
  const { id, revision, type_code, category, title, state, priority, source, site_id, camera_ids, lat, lon } = incident;
  return {
    id,
    revision,
    type_code,
    category,
    title,
    state,
    priority,
    source,
    site_id,
    camera_ids,
    lat,
    lon,
    owner: incident.owner,
    assignee_user: incident.assignee_user,
    assignee_team: incident.assignee_team,
    alarm_count: incident.alarm_count,
    escalation_level: incident.escalation_level,
    created_at: incident.created_at,
    updated_at: incident.updated_at,
    allowed_actions: [...incident.allowed_actions],
  };
}

/** A queue item from a pushed head (the actions follow from its state). */
export function fromHead(head: WsIncidentHead): QueueItem {
  return { ...head, camera_ids: [...head.camera_ids], allowed_actions: allowedActions(head.state) };
}

/** Queue order: most urgent priority first, then the one waiting longest, then by id (stable). */
export function compareQueue(a: QueueItem, b: QueueItem): number {
  const byPriority = PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority];
  if (byPriority !== 0) return byPriority;
  const byAge = Date.parse(a.created_at) - Date.parse(b.created_at);
  if (byAge !== 0) return byAge;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function sortQueue(items: QueueItem[]): QueueItem[] {
  return [...items].sort(compareQueue);
}

/**
 * Upserts `incoming` into `current`: an older revision never replaces a newer one,
 * and incidents that are no longer open leave the queue. Returns the sorted queue.
 */
export function mergeQueue(current: QueueItem[], incoming: QueueItem[]): QueueItem[] {
  const byId = new Map(current.map((item) => [item.id, item]));
  for (const item of incoming) {
    const existing = byId.get(item.id);
    if (existing && existing.revision > item.revision) continue;
    byId.set(item.id, item);
  }
  return sortQueue([...byId.values()].filter((item) => isOpen(item.state)));
}

export interface IncidentsState {
  items: QueueItem[];
  /** Newest incident cursor seen on the WebSocket (for `?since=` on reconnect). */
  cursor: number | null;
  /** Ids of incidents opened while the console was watching (highlighted until seen). */
  fresh: string[];
  /** Bumped when the server asks for a reload (replay too long or pruned). */
  resync: number;
  loaded: boolean;
}

export const INITIAL_INCIDENTS: IncidentsState = { items: [], cursor: null, fresh: [], resync: 0, loaded: false };

export type IncidentsAction =
  /** An HTTP snapshot of the open incidents, requested at `requestedAt` (ms). */
  | { type: "loaded"; incidents: IncidentOut[]; requestedAt: number }
  | { type: "ws"; message: IncidentMessage | CursorMessage }
  /** The answer of an action taken from this console. */
  | { type: "updated"; incident: IncidentOut }
  | { type: "seen"; id: string };

function loaded(state: IncidentsState, incidents: IncidentOut[], requestedAt: number): IncidentsState {
  const snapshot = incidents.map(fromIncident);
  const inSnapshot = new Set(snapshot.map((item) => item.id));
  // The snapshot is authoritative, except for pushes that arrived after it was asked for.
  const newer = state.items.filter((item) => !inSnapshot.has(item.id) && Date.parse(item.updated_at) >= requestedAt);
  const byId = new Map(state.items.map((item) => [item.id, item]));
  const merged = snapshot.map((item) => {
    const existing = byId.get(item.id);
    return existing && existing.revision > item.revision ? existing : item;
  });
  const items = mergeQueue([], [...merged, ...newer]);
  const ids = new Set(items.map((item) => item.id));
  return { ...state, items, fresh: state.fresh.filter((id) => ids.has(id)), loaded: true };
}

function pushed(state: IncidentsState, message: IncidentMessage | CursorMessage): IncidentsState {
  const cursor = state.cursor === null ? message.cursor : Math.max(state.cursor, message.cursor);
  if (message.type === "cursor") {
    return { ...state, cursor, resync: message.resync ? state.resync + 1 : state.resync };
  }
  const item = fromHead(message.incident);
  const items = mergeQueue(state.items, [item]);
  const known = state.items.some((existing) => existing.id === item.id);
  const fresh =
    !known && isOpen(item.state) && message.change === "created" && !state.fresh.includes(item.id)
      ? [...state.fresh, item.id]
      : state.fresh.filter((id) => items.some((existing) => existing.id === id));
  return { ...state, items, cursor, fresh };
}

export function incidentsReducer(state: IncidentsState, action: IncidentsAction): IncidentsState {
  switch (action.type) {
    case "loaded":
      return loaded(state, action.incidents, action.requestedAt);
    case "ws":
      return pushed(state, action.message);
    case "updated": {
      const items = mergeQueue(state.items, [fromIncident(action.incident)]);
      return { ...state, items, fresh: state.fresh.filter((id) => id !== action.incident.id) };
    }
    case "seen":
      return { ...state, fresh: state.fresh.filter((id) => id !== action.id) };
  }
}

/** "3 min", "2 h 5 min": how long an incident has been waiting. */
export function formatAge(createdAt: string, now: number): string {
  const seconds = Math.max(0, Math.floor((now - Date.parse(createdAt)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d`;
}
