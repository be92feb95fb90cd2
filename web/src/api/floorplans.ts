/** Floor plans: list (viewers of the site) and upload / place / remove (`config.manage`). */
import { API_ORIGIN, csrfHeaders, toApiError } from "./client";
import type { FloorPlan } from "../lib/floorPlans";
import { type ChangeOut, type FieldProblem, SettingsRejected } from "./settings";

/** Name and corners of a floor plan. */
export interface Placement {
  name: string;
  south: number;
  west: number;
  north: number;
  east: number;
}

async function send<T>(method: string, path: string, init: RequestInit = {}): Promise<T> {
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

const enc = encodeURIComponent;

export const listFloorPlans = (signal?: AbortSignal) => send<FloorPlan[]>("GET", "/api/floorplans", { signal });

/** Uploads (or replaces) a floor's plan image (PNG or JPEG) with its name and corners. */
export function uploadFloorPlan(siteId: string, floorId: string, image: Blob, placement: Placement): Promise<ChangeOut> {
  const query = new URLSearchParams(Object.entries(placement).map(([key, value]) => [key, String(value)]));
  return send<ChangeOut>("PUT", `/api/settings/sites/${enc(siteId)}/floors/${enc(floorId)}/image?${query}`, {
    headers: { ...csrfHeaders(), "Content-Type": image.type || "application/octet-stream" },
    body: image,
  });
}

export const deleteFloorPlan = (siteId: string, floorId: string) =>
  send<ChangeOut>("DELETE", `/api/settings/sites/${enc(siteId)}/floors/${enc(floorId)}`, { headers: csrfHeaders() });
