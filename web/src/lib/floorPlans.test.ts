import { describe, expect, it } from "vitest";

import type { CameraOut } from "../api/client";
import { currentFloor, type FloorPlan, floorsOf, showsOnFloor, siteInView } from "./floorPlans";

function plan(site_id: string, id: string, south: number, west: number, size = 0.01): FloorPlan {
  return { site_id, site_name: site_id, id, name: id, south, west, north: south + size, east: west + size, image_url: "" };
}

function camera(id: string, site_id: string, floor: string | null): CameraOut {
  return {
    id,
    name: id,
    site_id,
    position: { lat: 52, lon: 0.1, heading_deg: null, fov_deg: null, floor },
  } as unknown as CameraOut;
}

const PLANS = [plan("hq", "ground", 52, 0.1), plan("hq", "first", 52, 0.1), plan("depot", "yard", 53, 1, 0.1)];

describe("siteInView", () => {
  it("offers the site whose plans cover most of the view", () => {
    expect(siteInView(PLANS, { south: 51.99, west: 0.09, north: 52.02, east: 0.12 })).toBe("hq");
    // Both in view: the depot's bigger plan covers more of it.
    expect(siteInView(PLANS, { south: 51, west: 0, north: 54, east: 2 })).toBe("depot");
  });

  it("offers nothing when no plan is in view, or only touches its edge", () => {
    expect(siteInView(PLANS, { south: 10, west: 10, north: 11, east: 11 })).toBeNull();
    expect(siteInView(PLANS, { south: 52.01, west: 0.1, north: 52.02, east: 0.11 })).toBeNull();
    expect(siteInView([], { south: -90, west: -180, north: 90, east: 180 })).toBeNull();
  });
});

describe("floors", () => {
  it("lists a site's floors in order and keeps the chosen one while it exists", () => {
    const floors = floorsOf(PLANS, "hq");
    expect(floors.map((f) => f.id)).toEqual(["ground", "first"]);
    expect(floorsOf(PLANS, null)).toEqual([]);
    expect(currentFloor(floors, "first")?.id).toBe("first");
    expect(currentFloor(floors, "gone")?.id).toBe("ground");
    expect(currentFloor(floors, undefined)?.id).toBe("ground");
    expect(currentFloor([], "first")).toBeNull();
  });

  it("shows a camera on its own floor only, and floorless or other-site cameras always", () => {
    const [ground = null, first = null] = floorsOf(PLANS, "hq");
    expect(showsOnFloor(camera("a", "hq", "ground"), ground)).toBe(true);
    expect(showsOnFloor(camera("a", "hq", "ground"), first)).toBe(false);
    expect(showsOnFloor(camera("b", "hq", null), first)).toBe(true);
    expect(showsOnFloor(camera("c", "depot", "ground"), first)).toBe(true);
    expect(showsOnFloor(camera("d", "hq", "first"), null)).toBe(true);
    expect(showsOnFloor({ ...camera("e", "hq", null), position: null } as CameraOut, ground)).toBe(true);
  });
});
