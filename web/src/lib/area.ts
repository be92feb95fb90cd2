/**
 * The map area the overview is filtered to: which cameras are inside it, the event search that covers
 * them, and the Review page's cameras. No Leaflet here, so all of it is unit-testable.
 *
 * A camera is inside an area when its map position is; cameras without a position never are (the same rule
 * as the server's `GET /api/search/events?bbox=` / `polygon=`).
 */
import type { CameraOut, EventOut } from "../api/client";
import type { SearchQuery } from "../api/review";
import { mergeEvents } from "./state";

/** A latitude/longitude in degrees. */
export interface GeoPoint {
  lat: number;
  lon: number;
}

/** A rectangle (as dragged on the map; edges inclusive) or a polygon of at least three corners. */
export type MapArea =
  | { kind: "rectangle"; south: number; west: number; north: number; east: number }
  | { kind: "polygon"; points: GeoPoint[] };

/** The Review page plays at most this many cameras in sync. */
export const REVIEW_MAX_CAMERAS = 4;

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/**
 * The rectangle with corners `a` and `b` (dragged in any direction), or null when it has no width or height.
 * Longitudes from a repeated world copy (beyond ±180°) are shifted back into range; a rectangle that still
 * crosses the antimeridian is cut at 180°. Latitudes are clamped to ±90°.
 */
export function rectangleFrom(a: GeoPoint, b: GeoPoint): MapArea | null {
  let west = Math.min(a.lon, b.lon);
  let east = Math.max(a.lon, b.lon);
  const shift = Math.floor((west + 180) / 360) * 360;
  west = clamp(west - shift, -180, 180);
  east = clamp(east - shift, -180, 180);
  const south = clamp(Math.min(a.lat, b.lat), -90, 90);
  const north = clamp(Math.max(a.lat, b.lat), -90, 90);
  if (!(south < north && west < east)) return null;
  return { kind: "rectangle", south, west, north, east };
}

/** True when (lat, lon) lies inside the polygon (even-odd rule, like the server; edges may go either way). */
export function pointInPolygon(points: readonly GeoPoint[], lat: number, lon: number): boolean {
  let inside = false;
  let previous = points[points.length - 1];
  if (previous === undefined) return false;
  for (const point of points) {
    if (point.lat > lat !== previous.lat > lat) {
      const crossing = point.lon + ((lat - point.lat) * (previous.lon - point.lon)) / (previous.lat - point.lat);
      if (lon < crossing) inside = !inside;
    }
    previous = point;
  }
  return inside;
}

/** True when (lat, lon) lies inside `area`. */
export function areaContains(area: MapArea, lat: number, lon: number): boolean {
  if (area.kind === "rectangle") {
    return lat >= area.south && lat <= area.north && lon >= area.west && lon <= area.east;
  }
  return area.points.length >= 3 && pointInPolygon(area.points, lat, lon);
}

/** The cameras placed inside `area`, in the order given; cameras without a map position are outside. */
export function camerasInArea(cameras: readonly CameraOut[], area: MapArea): CameraOut[] {
  return cameras.filter((camera) => camera.position && areaContains(area, camera.position.lat, camera.position.lon));
}

/** The area as the search API's parameter: `bbox` (south,west,north,east) or `polygon` (lat,lon;…). */
export function areaParam(area: MapArea): Pick<SearchQuery, "bbox" | "polygon"> {
  if (area.kind === "rectangle") return { bbox: [area.south, area.west, area.north, area.east].join(",") };
  return { polygon: area.points.map((p) => `${p.lat},${p.lon}`).join(";") };
}

/** A text that changes exactly when the area does (a poll key). */
export function areaKey(area: MapArea): string {
  const { bbox, polygon } = areaParam(area);
  return bbox ?? polygon ?? "";
}

/** `GET /api/search/events` for the newest `limit` events of the cameras inside `area`. */
export function areaEventQuery(area: MapArea, limit: number): SearchQuery {
  return { ...areaParam(area), limit };
}

/**
 * The events of the cameras in `ids`, newest first (at most the live list's cap): those the search API found
 * for the area merged with the live ones (the live version of an event wins, as in the live list).
 */
export function eventsInArea(found: readonly EventOut[], live: readonly EventOut[], ids: ReadonlySet<string>): EventOut[] {
  const inside = (event: EventOut) => ids.has(event.camera_id);
  return mergeEvents(found.filter(inside), live.filter(inside));
}

/** "Area: 1 camera" / "Area: 3 cameras" (the map's chip). */
export function areaChipLabel(count: number): string {
  return `Area: ${count} camera${count === 1 ? "" : "s"}`;
}

/** "2 of 5 cameras in the selected area". */
export function areaCountText(inside: number, total: number): string {
  return `${inside} of ${total} camera${total === 1 ? "" : "s"} in the selected area`;
}

/**
 * The cameras the Review page opens with for an area: the selected camera first when it is inside, then the
 * others in list order, at most `max` (the Review page's synchronized playback limit).
 */
export function reviewCameraIds(
  inside: readonly CameraOut[],
  selectedId: string | null,
  max: number = REVIEW_MAX_CAMERAS,
): string[] {
  const ids = inside.map((camera) => camera.id);
  const ordered = selectedId !== null && ids.includes(selectedId) ? [selectedId, ...ids.filter((id) => id !== selectedId)] : ids;
  return ordered.slice(0, Math.max(0, max));
}
