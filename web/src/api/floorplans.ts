/** Floor plans: list (viewers of the site) and upload / place / remove (`config.manage`). */
import { csrfHeaders } from "./client";
import type { FloorPlan } from "../lib/floorPlans";
import { type ChangeOut, settingsRequest } from "./settings";

/** Name and corners of a floor plan. */
export interface Placement {
  name: string;
  south: number;
  west: number;
  north: number;
  east: number;
}

const enc = encodeURIComponent;

export const listFloorPlans = (signal?: AbortSignal) => settingsRequest<FloorPlan[]>("GET", "/api/floorplans", { signal });

/** Uploads (or replaces) a floor's plan image (PNG or JPEG) with its name and corners. */
export function uploadFloorPlan(siteId: string, floorId: string, image: Blob, placement: Placement): Promise<ChangeOut> {
  const query = new URLSearchParams(Object.entries(placement).map(([key, value]) => [key, String(value)]));
  return settingsRequest<ChangeOut>("PUT", `/api/settings/sites/${enc(siteId)}/floors/${enc(floorId)}/image?${query}`, {
    headers: { ...csrfHeaders(), "Content-Type": image.type || "application/octet-stream" },
    body: image,
  });
}

export const deleteFloorPlan = (siteId: string, floorId: string) =>
  settingsRequest<ChangeOut>("DELETE", `/api/settings/sites/${enc(siteId)}/floors/${enc(floorId)}`, { headers: csrfHeaders() });
