/**
 * Live updates over the `/api/ws` WebSocket.
 *
 * The message types are written by hand (WebSocket messages are not part of
 * the OpenAPI schema) and every incoming message is validated by
 * `parseWsMessage` before the app sees it.
 */
import { useEffect, useRef, useState } from "react";

import type { CameraStatusOut, EventOut } from "./client";
import type { components } from "./schema";

/** The head of an incident as pushed over the WebSocket. */
export type WsIncidentHead = components["schemas"]["WsIncidentHead"];
export type IncidentChange = components["schemas"]["WsIncident"]["change"];

export interface EventMessage {
  type: "event";
  /** "updated" carries a changed score/label/end of an ongoing event. */
  state: "started" | "updated" | "ended";
  event: EventOut;
}

export interface CameraStatusMessage {
  type: "camera_status";
  camera_id: string;
  status: CameraStatusOut;
}

export interface IncidentMessage {
  type: "incident";
  /** Orders every incident change; reconnect with `?since=<cursor>` to replay what was missed. */
  cursor: number;
  change: IncidentChange;
  actor: string | null;
  incident: WsIncidentHead;
}

/** End of a replay: `cursor` is the newest change; `resync` asks for a reload over HTTP. */
export interface CursorMessage {
  type: "cursor";
  cursor: number;
  replayed: number;
  resync: boolean;
}

/** Someone broke the glass (emergency access to live originals); sent to approvers only. */
export interface BreakGlassMessage {
  type: "break_glass";
  grant_id: string;
  requester: string;
  camera_ids: string[];
  reason: string;
  at: string;
  expires_at: string;
}

export type WsMessage = EventMessage | CameraStatusMessage | IncidentMessage | CursorMessage | BreakGlassMessage;

/** "connecting" before the first connection, "live" while open, "reconnecting" after a drop. */
export type LinkState = "connecting" | "live" | "reconnecting";

const CAMERA_STATES = new Set(["connecting", "streaming", "stalled", "offline"]);
const EVENT_KINDS = new Set(["motion", "object", "zone", "tamper"]);
const EVENT_STATES = new Set(["started", "updated", "ended"]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStatus(value: unknown): value is CameraStatusOut {
  return (
    isRecord(value) &&
    typeof value.state === "string" &&
    CAMERA_STATES.has(value.state) &&
    typeof value.since === "string" &&
    typeof value.reason === "string"
  );
}

function isEvent(value: unknown): value is EventOut {
  return (
    isRecord(value) &&
    typeof value.id === "string" &&
    typeof value.camera_id === "string" &&
    typeof value.kind === "string" &&
    EVENT_KINDS.has(value.kind) &&
    typeof value.start === "string" &&
    (value.end === null || typeof value.end === "string") &&
    typeof value.score === "number" &&
    typeof value.label === "string"
  );
}

const INCIDENT_STATES = new Set(["new", "acknowledged", "in_progress", "on_hold", "resolved", "closed"]);
const PRIORITIES = new Set(["critical", "high", "medium", "low"]);
const CHANGES = new Set(["created", "alarm", "transition", "assigned", "priority", "note", "attachment", "sop", "escalated"]);

function isNullableString(value: unknown): boolean {
  return value === null || typeof value === "string";
}

function isNullableNumber(value: unknown): boolean {
  return value === null || typeof value === "number";
}

function isIncidentHead(value: unknown): value is WsIncidentHead {
  return (
    isRecord(value) &&
    typeof value.id === "string" &&
    typeof value.revision === "number" &&
    typeof value.title === "string" &&
    typeof value.type_code === "string" &&
    typeof value.state === "string" &&
    INCIDENT_STATES.has(value.state) &&
    typeof value.priority === "string" &&
    PRIORITIES.has(value.priority) &&
    Array.isArray(value.camera_ids) &&
    value.camera_ids.every((id) => typeof id === "string") &&
    isNullableNumber(value.lat) &&
    isNullableNumber(value.lon) &&
    isNullableString(value.assignee_user) &&
    isNullableString(value.assignee_team) &&
    typeof value.created_at === "string" &&
    typeof value.updated_at === "string"
  );
}

function parseIncidentOrCursor(value: Record<string, unknown>): IncidentMessage | CursorMessage | null {
  if (typeof value.cursor !== "number") return null;
  if (value.type === "cursor") {
    return {
      type: "cursor",
      cursor: value.cursor,
      replayed: typeof value.replayed === "number" ? value.replayed : 0,
      resync: value.resync === true,
    };
  }
  if (typeof value.change !== "string" || !CHANGES.has(value.change) || !isIncidentHead(value.incident)) return null;
  return {
    type: "incident",
    cursor: value.cursor,
    change: value.change as IncidentChange,
    actor: typeof value.actor === "string" ? value.actor : null,
    incident: value.incident,
  };
}

/** Parses one raw WebSocket frame; returns null for anything that is not a known, well-formed message. */
export function parseWsMessage(raw: string): WsMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isRecord(value)) return null;
  if (value.type === "event" && typeof value.state === "string" && EVENT_STATES.has(value.state) && isEvent(value.event)) {
    return { type: "event", state: value.state as EventMessage["state"], event: value.event };
  }
  if (value.type === "camera_status" && typeof value.camera_id === "string" && isStatus(value.status)) {
    return { type: "camera_status", camera_id: value.camera_id, status: value.status };
  }
  if (value.type === "incident" || value.type === "cursor") return parseIncidentOrCursor(value);
  if (value.type === "break_glass") return parseBreakGlass(value);
  return null;
}

function parseBreakGlass(value: Record<string, unknown>): BreakGlassMessage | null {
  const { grant_id: grantId, requester, camera_ids: cameraIds, reason, at, expires_at: expiresAt } = value;
  if (
    typeof grantId !== "string" ||
    typeof requester !== "string" ||
    !Array.isArray(cameraIds) ||
    !cameraIds.every((id) => typeof id === "string") ||
    typeof reason !== "string" ||
    typeof at !== "string" ||
    typeof expiresAt !== "string"
  ) {
    return null;
  }
  return { type: "break_glass", grant_id: grantId, requester, camera_ids: cameraIds, reason, at, expires_at: expiresAt };
}

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 15_000 };

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential, capped, with
 * "equal jitter" (between half and all of the exponential delay).
 */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random = Math.random): number {
  const exp = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt));
  return Math.round(exp / 2 + (exp / 2) * random());
}

/** The WebSocket URL of the API on the page's own origin. */
export function liveSocketUrl(location: Pick<Location, "protocol" | "host">): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/ws`;
}

export interface LiveSocketHandlers {
  onMessage: (message: WsMessage) => void;
  /** Called on every (re)connection: a good moment to re-fetch what may have been missed. */
  onOpen?: () => void;
  /** The `since` cursor to send when (re)connecting (`"now"` or the last incident cursor seen). */
  since?: () => string | null;
}

/** `url` with `?since=<since>` when a cursor is given. */
export function withSince(url: string, since: string | null | undefined): string {
  return since ? `${url}?since=${encodeURIComponent(since)}` : url;
}

/** Keeps a WebSocket open to `url`, reconnecting with exponential backoff; returns the link state. */
export function useLiveSocket(url: string, handlers: LiveSocketHandlers): LinkState {
  const [state, setState] = useState<LinkState>("connecting");
  const handlersRef = useRef(handlers);
  handlersRef.current = handlers;

  useEffect(() => {
    let socket: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;
    let disposed = false;

    const connect = (): void => {
      socket = new WebSocket(withSince(url, handlersRef.current.since?.()));
      socket.onopen = () => {
        attempt = 0;
        setState("live");
        handlersRef.current.onOpen?.();
      };
      socket.onmessage = (frame: MessageEvent) => {
        if (typeof frame.data !== "string") return;
        const message = parseWsMessage(frame.data);
        if (message) handlersRef.current.onMessage(message);
      };
      socket.onclose = () => {
        if (disposed) return;
        setState("reconnecting");
        timer = setTimeout(connect, backoffDelay(attempt));
        attempt += 1;
      };
    };

    connect();
    return () => {
      disposed = true;
      clearTimeout(timer);
      socket?.close();
    };
  }, [url]);

  return state;
}
