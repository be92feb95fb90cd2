/** Small geometry helpers for the map (no Leaflet here, so they are unit-testable). */
import type { CameraOut, PositionOut } from "../api/client";

const METRES_PER_DEGREE = 111_320;
/** How far a field-of-view cone reaches on the map. */
export const CONE_RANGE_M = 40;
/** Field of view assumed when a camera has a heading but no `fov_deg`. */
export const DEFAULT_FOV_DEG = 60;

export type LatLon = [number, number];

/** The point `distanceM` metres from (`lat`, `lon`) towards `bearingDeg` (clockwise from north). */
export function offset(lat: number, lon: number, bearingDeg: number, distanceM: number): LatLon {
  const bearing = (bearingDeg * Math.PI) / 180;
  const dLat = (distanceM * Math.cos(bearing)) / METRES_PER_DEGREE;
  const dLon = (distanceM * Math.sin(bearing)) / (METRES_PER_DEGREE * Math.cos((lat * Math.PI) / 180));
  return [lat + dLat, lon + dLon];
}

/**
 * The field-of-view cone of a camera as a polygon (apex first), or null when the
 * camera has no heading (a direction is never invented).
 */
export function fovCone(position: PositionOut, rangeM = CONE_RANGE_M, steps = 12): LatLon[] | null {
  if (position.heading_deg === null || position.heading_deg === undefined) return null;
  const fov = Math.min(360, Math.max(1, position.fov_deg ?? DEFAULT_FOV_DEG));
  const first = position.heading_deg - fov / 2;
  const points: LatLon[] = [[position.lat, position.lon]];
  for (let i = 0; i <= steps; i += 1) {
    points.push(offset(position.lat, position.lon, first + (fov * i) / steps, rangeM));
  }
  return points;
}

/** Cameras with and without a map position. */
export function splitPlaced(cameras: CameraOut[]): { placed: CameraOut[]; unplaced: CameraOut[] } {
  const placed: CameraOut[] = [];
  const unplaced: CameraOut[] = [];
  for (const camera of cameras) (camera.position ? placed : unplaced).push(camera);
  return { placed, unplaced };
}

/** Where to pin an incident: its own point, else the first of its cameras that is placed. */
export function incidentPoint(
  incident: { lat: number | null; lon: number | null; camera_ids: string[] },
  cameras: CameraOut[],
): LatLon | null {
  if (incident.lat !== null && incident.lon !== null) return [incident.lat, incident.lon];
  for (const id of incident.camera_ids) {
    const position = cameras.find((camera) => camera.id === id)?.position;
    if (position) return [position.lat, position.lon];
  }
  return null;
}
