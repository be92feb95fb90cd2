/**
 * Indoor floor plans on the map (no Leaflet here, so the logic is unit-testable): which site's floors the
 * switcher offers for the visible part of the map, which floor is shown, and which cameras show on it.
 */
import type { CameraOut } from "../api/client";
import type { components } from "../api/schema";

export type FloorPlan = components["schemas"]["FloorPlanOut"];

/** A lat/lon box (the visible map, or a plan's corners). */
export interface Box {
  south: number;
  west: number;
  north: number;
  east: number;
}

function overlap(a: Box, b: Box): number {
  const height = Math.min(a.north, b.north) - Math.max(a.south, b.south);
  const width = Math.min(a.east, b.east) - Math.max(a.west, b.west);
  return height > 0 && width > 0 ? height * width : 0;
}

/**
 * The site whose floor plans the switcher offers: of the sites with a plan inside the view, the one whose
 * plans cover most of it; null when no plan is in view.
 */
export function siteInView(plans: FloorPlan[], view: Box): string | null {
  const covered = new Map<string, number>();
  for (const plan of plans) {
    const area = overlap(plan, view);
    if (area > 0) covered.set(plan.site_id, Math.max(covered.get(plan.site_id) ?? 0, area));
  }
  let best: string | null = null;
  let bestArea = 0;
  for (const [site, area] of covered) {
    if (area > bestArea) [best, bestArea] = [site, area];
  }
  return best;
}

/** The floors of `siteId` in the configured order (bottom floor first). */
export function floorsOf(plans: FloorPlan[], siteId: string | null): FloorPlan[] {
  return siteId === null ? [] : plans.filter((plan) => plan.site_id === siteId);
}

/** The floor to show: the chosen one while the site still has it, else the site's first floor. */
export function currentFloor(floors: FloorPlan[], chosen: string | undefined): FloorPlan | null {
  return floors.find((floor) => floor.id === chosen) ?? floors[0] ?? null;
}

/**
 * Whether `camera` shows while `floor` of its site is shown: cameras without a floor show on every floor,
 * cameras of other sites (or of a site without plans in view) always show.
 */
export function showsOnFloor(camera: CameraOut, floor: FloorPlan | null): boolean {
  const cameraFloor = camera.position?.floor ?? null;
  if (floor === null || cameraFloor === null || camera.site_id !== floor.site_id) return true;
  return cameraFloor === floor.id;
}
