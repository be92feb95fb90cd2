/**
 * Typed HTTP client for the Watchkeeper API.
 *
 * Every call goes through openapi-fetch with the `paths` type generated from
 * `../openapi.json` (see `npm run gen:api`), so a change in the server's schema
 * shows up here as a type error.
 */
import createClient from "openapi-fetch";

import type { components, paths } from "./schema";

export type CameraOut = components["schemas"]["CameraOut"];
export type CameraStatusOut = components["schemas"]["CameraStatusOut"];
export type CameraState = CameraStatusOut["state"];
export type EventOut = components["schemas"]["EventOut"];
export type EventKind = EventOut["kind"];
export type SegmentOut = components["schemas"]["SegmentOut"];
export type HealthOut = components["schemas"]["HealthOut"];

/** An API call that failed, with a message an operator can read. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(message: string, status: number, code: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** Origin of the API: the page's own (the Python server serves both the console and the API). */
export const API_ORIGIN = typeof window === "undefined" ? "" : window.location.origin;

const api = createClient<paths>({ baseUrl: API_ORIGIN });

const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
let csrfToken: string | null = null;
const unauthorizedListeners = new Set<() => void>();

/** Remembers (or forgets, with null) the session's CSRF token, sent as `X-CSRF-Token` on unsafe requests. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** The `X-CSRF-Token` header for an unsafe request, when a session is open. */
export function csrfHeaders(): Record<string, string> {
  return csrfToken ? { "X-CSRF-Token": csrfToken } : {};
}

/** Calls `listener` whenever an API call answers 401 (the session expired or was revoked); returns an unsubscribe. */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => {
    unauthorizedListeners.delete(listener);
  };
}

api.use({
  onRequest({ request }) {
    if (csrfToken && UNSAFE_METHODS.has(request.method.toUpperCase())) {
      request.headers.set("X-CSRF-Token", csrfToken);
    }
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401) for (const listener of [...unauthorizedListeners]) listener();
    return response;
  },
});

/** Turns an error body (our `{error: {code, message}}`, FastAPI's `{detail}` or text) into an ApiError. */
export function toApiError(body: unknown, response: Response): ApiError {
  const status = response.status;
  const fallback = `The server answered ${status}${response.statusText ? ` ${response.statusText}` : ""}`;
  if (typeof body === "object" && body !== null) {
    if ("error" in body && typeof body.error === "object" && body.error !== null) {
      const err = body.error as { code?: unknown; message?: unknown };
      const message = typeof err.message === "string" && err.message ? err.message : fallback;
      return new ApiError(message, status, typeof err.code === "string" ? err.code : "http_error");
    }
    if ("detail" in body) {
      const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
      return new ApiError(`${fallback}: ${detail}`, status, "http_error");
    }
  }
  if (typeof body === "string" && body.trim()) {
    return new ApiError(`${fallback}: ${body.trim().slice(0, 200)}`, status, "http_error");
  }
  return new ApiError(fallback, status, "http_error");
}

/** A readable one-line description of anything a call may throw. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof DOMException && err.name === "AbortError") return "The request was cancelled.";
  if (err instanceof TypeError) return "Cannot reach the Watchkeeper server. Is it running?";
  if (err instanceof Error) return err.message;
  return String(err);
}

export async function getHealth(signal?: AbortSignal): Promise<HealthOut> {
  const { data, error, response } = await api.GET("/api/health", { signal });
  if (data === undefined) throw toApiError(error, response);
  return data;
}

export async function listCameras(signal?: AbortSignal): Promise<CameraOut[]> {
  const { data, error, response } = await api.GET("/api/cameras", { signal });
  if (data === undefined) throw toApiError(error, response);
  return data;
}

export interface EventQuery {
  camera_id?: string;
  since?: string;
  limit?: number;
}

/** Events, newest first. */
export async function listEvents(query: EventQuery = {}, signal?: AbortSignal): Promise<EventOut[]> {
  const { data, error, response } = await api.GET("/api/events", { params: { query }, signal });
  if (data === undefined) throw toApiError(error, response);
  return data;
}

export interface RecordingQuery {
  camera_id: string;
  start?: string;
  end?: string;
  limit?: number;
}

/** Recorded segments of one camera, oldest first. */
export async function listRecordings(query: RecordingQuery, signal?: AbortSignal): Promise<SegmentOut[]> {
  const { data, error, response } = await api.GET("/api/recordings", { params: { query }, signal });
  if (data === undefined) throw toApiError(error, response);
  return data;
}

// ---- Incidents and the map ----

export type IncidentOut = components["schemas"]["IncidentOut"];
export type IncidentDetailOut = components["schemas"]["IncidentDetailOut"];
export type IncidentPageOut = components["schemas"]["IncidentPageOut"];
export type IncidentTypeOut = components["schemas"]["IncidentTypeOut"];
export type IncidentState = IncidentOut["state"];
export type IncidentAction = IncidentOut["allowed_actions"][number];
export type Priority = IncidentOut["priority"];
export type MapSettingsOut = components["schemas"]["MapSettingsOut"];
export type PositionOut = NonNullable<CameraOut["position"]>;

export interface IncidentQuery {
  state?: IncidentState[];
  priority?: Priority[];
  camera_id?: string[];
  limit?: number;
  offset?: number;
}

/** A page of incidents matching `query`. */
export async function listIncidents(query: IncidentQuery = {}, signal?: AbortSignal): Promise<IncidentPageOut> {
  const { data, error, response } = await api.GET("/api/incidents", { params: { query }, signal });
  if (data === undefined) throw toApiError(error, response);
  return data;
}

export async function getIncident(id: string, signal?: AbortSignal): Promise<IncidentDetailOut> {
  const { data, error, response } = await api.GET("/api/incidents/{incident_id}", {
    params: { path: { incident_id: id } },
    signal,
  });
  if (data === undefined) throw toApiError(error, response);
  return data;
}

export async function listIncidentTypes(signal?: AbortSignal): Promise<IncidentTypeOut[]> {
  const { data, error, response } = await api.GET("/api/incident-types", { signal });
  if (data === undefined) throw toApiError(error, response);
  return data;
}

/** Moves an incident through its workflow; a 409 names the actions its current state allows. */
export async function incidentAction(id: string, action: IncidentAction, reason = ""): Promise<IncidentOut> {
  const { data, error, response } = await api.POST("/api/incidents/{incident_id}/actions/{action}", {
    params: { path: { incident_id: id, action } },
    body: { reason },
  });
  if (data === undefined) throw toApiError(error, response);
  return data;
}

export async function assignIncident(id: string, user: string | null, team: string | null): Promise<IncidentOut> {
  const { data, error, response } = await api.PUT("/api/incidents/{incident_id}/assignee", {
    params: { path: { incident_id: id } },
    body: { user, team },
  });
  if (data === undefined) throw toApiError(error, response);
  return data;
}

export async function setIncidentPriority(id: string, priority: Priority): Promise<IncidentOut> {
  const { data, error, response } = await api.PUT("/api/incidents/{incident_id}/priority", {
    params: { path: { incident_id: id } },
    body: { priority },
  });
  if (data === undefined) throw toApiError(error, response);
  return data;
}

/** Ticks SOP step `index`, or skips it when `skipReason` is given. */
export async function setSopStep(id: string, index: number, skipReason: string | null = null): Promise<unknown> {
  const { data, error, response } = await api.PUT("/api/incidents/{incident_id}/sop/{index}", {
    params: { path: { incident_id: id, index } },
    body: { skip_reason: skipReason },
  });
  if (data === undefined) throw toApiError(error, response);
  return data;
}

export async function addIncidentNote(id: string, text: string): Promise<unknown> {
  const { data, error, response } = await api.POST("/api/incidents/{incident_id}/notes", {
    params: { path: { incident_id: id } },
    body: { text },
  });
  if (data === undefined) throw toApiError(error, response);
  return data;
}

export async function getEvent(id: string, signal?: AbortSignal): Promise<EventOut> {
  const { data, error, response } = await api.GET("/api/events/{event_id}", {
    params: { path: { event_id: id } },
    signal,
  });
  if (data === undefined) throw toApiError(error, response);
  return data;
}

export async function getMapSettings(signal?: AbortSignal): Promise<MapSettingsOut> {
  const { data, error, response } = await api.GET("/api/map/settings", { signal });
  if (data === undefined) throw toApiError(error, response);
  return data;
}

/** URL of a camera's newest analysed frame (the protected view); `tick` defeats caching. */
export function snapshotUrl(cameraId: string, tick: number): string {
  return `${API_ORIGIN}/api/cameras/${encodeURIComponent(cameraId)}/latest.jpg?t=${tick}`;
}

/** URL of a protected clip of a camera between two instants. */
export function clipUrl(cameraId: string, startMs: number, endMs: number): string {
  const start = encodeURIComponent(new Date(startMs).toISOString());
  const end = encodeURIComponent(new Date(endMs).toISOString());
  return `${API_ORIGIN}/api/cameras/${encodeURIComponent(cameraId)}/clip.mp4?start=${start}&end=${end}`;
}
