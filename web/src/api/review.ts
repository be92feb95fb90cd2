/**
 * Typed calls of the review and search pages: camera timelines, event search and evidence exports.
 * Same generated `paths` as `client.ts`; unsafe requests carry the session's CSRF token.
 */
import createClient from "openapi-fetch";

import { API_ORIGIN, csrfHeaders, toApiError } from "./client";
import type { components, paths } from "./schema";

export type TimelineOut = components["schemas"]["TimelineOut"];
export type EventSearchOut = components["schemas"]["EventSearchOut"];
export type ExportOut = components["schemas"]["ExportOut"];

const api = createClient<paths>({ baseUrl: API_ORIGIN });

/** Recorded spans, gaps and events of a camera over `[start, end)` (merged on the server). */
export async function getTimeline(
  cameraId: string,
  start: string,
  end: string,
  signal?: AbortSignal,
): Promise<TimelineOut> {
  const { data, error, response } = await api.GET("/api/cameras/{camera_id}/timeline", {
    params: { path: { camera_id: cameraId }, query: { start, end } },
    signal,
  });
  if (data === undefined) throw toApiError(error, response);
  return data;
}

export interface SearchQuery {
  camera_id?: string[];
  site?: string;
  start?: string;
  end?: string;
  object_class?: string;
  zone?: string;
  rule?: string;
  incident_type?: string;
  bbox?: string;
  polygon?: string;
  limit?: number;
}

/** Events matching every given filter, newest first, with the cameras the search covered. */
export async function searchEvents(query: SearchQuery, signal?: AbortSignal): Promise<EventSearchOut> {
  const { data, error, response } = await api.GET("/api/search/events", { params: { query }, signal });
  if (data === undefined) throw toApiError(error, response);
  return data;
}

/** Builds a signed evidence bundle of the protected footage of `cameraIds` over `[start, end)`. */
export async function createExport(cameraIds: string[], start: string, end: string, reason: string): Promise<ExportOut> {
  const { data, error, response } = await api.POST("/api/exports", {
    body: { camera_ids: cameraIds, start, end, reason, rendition: "protected" },
    headers: csrfHeaders(),
  });
  if (data === undefined) throw toApiError(error, response);
  return data;
}

/** Where the bundle of an export downloads from. */
export function exportBundleUrl(exportId: string): string {
  return `${API_ORIGIN}/api/exports/${encodeURIComponent(exportId)}/bundle`;
}

/** The HLS playlist of a camera's protected recording over a closed range. */
export function playlistUrl(cameraId: string, startMs: number, endMs: number): string {
  const start = encodeURIComponent(new Date(startMs).toISOString());
  const end = encodeURIComponent(new Date(endMs).toISOString());
  return `${API_ORIGIN}/api/cameras/${encodeURIComponent(cameraId)}/hls.m3u8?start=${start}&end=${end}`;
}
