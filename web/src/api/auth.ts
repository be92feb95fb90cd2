/**
 * Session login for the console: `/api/auth/me`, `/api/auth/login`, `/api/auth/logout`.
 *
 * The session itself is an HttpOnly cookie the browser keeps (the console never sees it); the CSRF token
 * the server returns is kept in memory by `client.ts` and sent as `X-CSRF-Token` on every unsafe request.
 * These calls use `fetch` directly and validate what comes back, so the login page works whatever else the
 * schema holds.
 */
import { API_ORIGIN, ApiError, csrfHeaders, setCsrfToken, toApiError } from "./client";

export interface RoleGrant {
  role: string;
  sites: string[];
  cameras: string[];
}

/** The signed-in user, as `GET /api/auth/me` describes them. */
export interface Me {
  username: string;
  display_name: string;
  roles: RoleGrant[];
  permissions: string[];
}

/** Login refused because of too many failed attempts; `retryAfterS` says when to try again. */
export class LockoutError extends ApiError {
  readonly retryAfterS: number | null;

  constructor(message: string, retryAfterS: number | null) {
    super(message, 429, "too_many_attempts");
    this.name = "LockoutError";
    this.retryAfterS = retryAfterS;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

/** Reads a `MeOut` body; null when it is not one. */
export function parseMe(value: unknown): Me | null {
  if (!isRecord(value) || typeof value.username !== "string" || !value.username) return null;
  const roles = Array.isArray(value.roles)
    ? value.roles.filter(isRecord).map((grant) => ({
        role: typeof grant.role === "string" ? grant.role : "",
        sites: strings(grant.sites),
        cameras: strings(grant.cameras),
      }))
    : [];
  const display = typeof value.display_name === "string" && value.display_name ? value.display_name : value.username;
  return { username: value.username, display_name: display, roles, permissions: strings(value.permissions) };
}

/** `Retry-After` in seconds (delta-seconds or an HTTP date), or null. */
export function retryAfterSeconds(header: string | null, nowMs: number = Date.now()): number | null {
  if (!header) return null;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/** "30 seconds", "1 minute", "5 minutes", "2 hours". */
export function describeWait(seconds: number): string {
  if (seconds < 60) return seconds === 1 ? "1 second" : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 120) return minutes === 1 ? "1 minute" : `${minutes} minutes`;
  return `${Math.ceil(minutes / 60)} hours`;
}

async function body(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The signed-in user, or null when there is no valid session (401). */
export async function getMe(signal?: AbortSignal): Promise<Me | null> {
  const response = await fetch(`${API_ORIGIN}/api/auth/me`, { credentials: "same-origin", signal });
  if (response.status === 401) {
    setCsrfToken(null);
    return null;
  }
  const data = await body(response);
  if (!response.ok) throw toApiError(data, response);
  const me = parseMe(data);
  if (!me) throw new ApiError("The server sent an unreadable user description.", response.status, "bad_response");
  if (isRecord(data) && typeof data.csrf_token === "string") setCsrfToken(data.csrf_token);
  return me;
}

/** Signs in; throws `LockoutError` during a lockout and `ApiError` (status 401) for wrong credentials. */
export async function login(username: string, password: string): Promise<Me> {
  const response = await fetch(`${API_ORIGIN}/api/auth/login`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const data = await body(response);
  if (response.status === 429) {
    const wait = retryAfterSeconds(response.headers.get("Retry-After"));
    const when = wait === null ? "later" : `in ${describeWait(wait)}`;
    throw new LockoutError(`Too many failed sign-in attempts. Try again ${when}.`, wait);
  }
  if (response.status === 401) {
    throw new ApiError("Wrong user name or password.", 401, "invalid_credentials");
  }
  if (!response.ok) throw toApiError(data, response);
  const me = isRecord(data) ? parseMe(data.user) : null;
  if (!me || !isRecord(data)) {
    throw new ApiError("The server sent an unreadable login answer.", response.status, "bad_response");
  }
  setCsrfToken(typeof data.csrf_token === "string" ? data.csrf_token : null);
  return me;
}

/** Ends the session on the server (best effort: the local state is cleared whatever happens). */
export async function logout(): Promise<void> {
  try {
    await fetch(`${API_ORIGIN}/api/auth/logout`, { method: "POST", credentials: "same-origin", headers: csrfHeaders() });
  } finally {
    setCsrfToken(null);
  }
}
