import { describe, expect, it } from "vitest";

import type { CameraOut } from "../api/client";
import { fovCone, incidentPoint, offset, splitPlaced } from "./geo";

const position = { lat: 52.2, lon: 0.12, heading_deg: 90, fov_deg: 70, floor: null };
const camera = (id: string, placed: boolean): CameraOut => ({
  id,
  name: id,
  site_id: "s",
  position: placed ? position : null,
  status: { state: "streaming", since: "2026-02-01T12:00:00Z", reason: "" },
});

describe("fovCone", () => {
  it("opens from the camera towards its heading, as wide as its field of view", () => {
    const cone = fovCone(position, 40, 2);
    expect(cone).not.toBeNull();
    const [apex, first, middle, last] = cone ?? [];
    expect(apex).toEqual([52.2, 0.12]);
    // Heading east: the middle ray keeps the latitude and goes east 40 m.
    expect(middle?.[0]).toBeCloseTo(52.2, 6);
    expect(((middle?.[1] ?? 0) - 0.12) * 111_320 * Math.cos((52.2 * Math.PI) / 180)).toBeCloseTo(40, 3);
    // The edges are 35 degrees either side: north-east and south-east.
    expect(first?.[0]).toBeGreaterThan(52.2);
    expect(last?.[0]).toBeLessThan(52.2);
  });

  it("draws no cone without a heading, and assumes a field of view when only the heading is known", () => {
    expect(fovCone({ ...position, heading_deg: null })).toBeNull();
    expect(fovCone({ ...position, fov_deg: null })).toHaveLength(14);
  });
});

describe("offset", () => {
  it("moves north along the meridian", () => {
    const [lat, lon] = offset(0, 0, 0, 111_320);
    expect(lat).toBeCloseTo(1, 6);
    expect(lon).toBeCloseTo(0, 9);
  });
});

describe("placement", () => {
  it("lists cameras without a position as not placed", () => {
    const { placed, unplaced } = splitPlaced([camera("a", true), camera("b", false)]);
    expect(placed.map((c) => c.id)).toEqual(["a"]);
    expect(unplaced.map((c) => c.id)).toEqual(["b"]);
  });

  it("pins an incident at its own point, else at its first placed camera, else nowhere", () => {
    const cameras = [camera("a", true), camera("b", false)];
    expect(incidentPoint({ lat: 1, lon: 2, camera_ids: ["a"] }, cameras)).toEqual([1, 2]);
    expect(incidentPoint({ lat: null, lon: null, camera_ids: ["b", "a"] }, cameras)).toEqual([52.2, 0.12]);
    expect(incidentPoint({ lat: null, lon: null, camera_ids: ["b"] }, cameras)).toBeNull();
  });
});
