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
