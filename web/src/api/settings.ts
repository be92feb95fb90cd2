/**
 * Settings (the configuration file, `config.manage`) and user administration (`users.manage`).
 *
 * Edits answer 422 with the problems located on form fields (`inputs[0].url`); `SettingsRejected`
 * carries them so each form shows the message next to the field.
 */
import { API_ORIGIN, ApiError, csrfHeaders, toApiError } from "./client";
import type { components } from "./schema";

export type ChangeOut = components["schemas"]["ChangeOut"];
export type ProbeOut = components["schemas"]["ProbeOut"];
export type FieldProblem = components["schemas"]["FieldProblem"];
export type RetentionSettings = components["schemas"]["RetentionSettings"];
export type UserOut = components["schemas"]["UserOut"];
export type GrantOut = UserOut["roles"][number];

/** Permissions that show the settings pages. */
export const MANAGE_CONFIG = "config.manage";
export const MANAGE_USERS = "users.manage";

/** JSON shaped like one entry of the YAML file (a camera or a site). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** What the settings pages edit; cameras and sites are entries of the YAML file. */
export type SettingsOut = Omit<components["schemas"]["SettingsOut"], "cameras" | "sites"> & {
  cameras: JsonObject[];
  sites: JsonObject[];
};

/** An edit the configuration models refused; `fields` locate each problem on the form. */
export class SettingsRejected extends ApiError {
  readonly fields: FieldProblem[];

  constructor(message: string, status: number, code: string, fields: FieldProblem[]) {
    super(message, status, code);
    this.name = "SettingsRejected";
    this.fields = fields;
  }
}

/** A settings request: JSON (or text) answer; a refused edit throws `SettingsRejected` with its field problems. */
export async function settingsRequest<T>(method: string, path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(`${API_ORIGIN}${path}`, { method, credentials: "same-origin", ...init });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text for the error message
  }
  if (!response.ok) {
    const error = toApiError(parsed, response);
    const fields = (parsed as { fields?: unknown } | null)?.fields;
    if (Array.isArray(fields)) throw new SettingsRejected(error.message, error.status, error.code, fields as FieldProblem[]);
    throw error;
  }
  return parsed as T;
}

function call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  return settingsRequest<T>(method, path, {
    headers: body === undefined ? csrfHeaders() : { ...csrfHeaders(), "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
}

const enc = encodeURIComponent;

export const getSettings = (signal?: AbortSignal) => call<SettingsOut>("GET", "/api/settings", undefined, signal);
export const createCamera = (camera: JsonObject) => call<ChangeOut>("POST", "/api/settings/cameras", camera);
export const updateCamera = (id: string, camera: JsonObject) =>
  call<ChangeOut>("PUT", `/api/settings/cameras/${enc(id)}`, camera);
export const setCameraEnabled = (id: string, enabled: boolean) =>
  call<ChangeOut>("PUT", `/api/settings/cameras/${enc(id)}/enabled`, { enabled });
export const createSite = (site: JsonObject) => call<ChangeOut>("POST", "/api/settings/sites", site);
export const updateSite = (id: string, site: JsonObject) => call<ChangeOut>("PUT", `/api/settings/sites/${enc(id)}`, site);
export const setRetention = (retention: RetentionSettings) => call<ChangeOut>("PUT", "/api/settings/retention", retention);
export const probeStream = (url: string, transport: string, cameraId: string | null) =>
  call<ProbeOut>("POST", "/api/settings/probe", { url, transport, camera_id: cameraId });

export const listUsers = (signal?: AbortSignal) => call<UserOut[]>("GET", "/api/users", undefined, signal);
export const createUser = (username: string, password: string, displayName: string, role: string) =>
  call<UserOut>("POST", "/api/users", { username, password, display_name: displayName, roles: [{ role, sites: [], cameras: [] }] });
export const updateUser = (username: string, patch: { disabled?: boolean; roles?: GrantOut[] }) =>
  call<UserOut>("PATCH", `/api/users/${enc(username)}`, patch);

/** Field path -> message; problems outside any field go under "" (shown at the top of the form). */
export function fieldErrors(err: unknown): Record<string, string> {
  if (!(err instanceof SettingsRejected)) return {};
  const out: Record<string, string> = {};
  for (const problem of err.fields) {
    const key = problem.field;
    out[key] = out[key] ? `${out[key]}; ${problem.message}` : problem.message;
  }
  return out;
}

/** The message for `field`, also when the problem names a part of it (`position` for `position.lat`). */
export function errorFor(errors: Record<string, string>, field: string): string | undefined {
  if (errors[field]) return errors[field];
  const nested = Object.keys(errors).filter((key) => key.startsWith(`${field}.`) || key.startsWith(`${field}[`));
  const part = (key: string) => key.slice(field.length).replace(/^\./, "");
  return nested.length ? nested.map((key) => `${part(key)}: ${errors[key]}`).join("; ") : undefined;
}
