import { describe, expect, it } from "vitest";

import type { CameraOut, EventOut } from "../api/client";
import {
  type MapArea,
  areaChipLabel,
  areaContains,
  areaCountText,
  areaEventQuery,
  areaKey,
  areaParam,
  camerasInArea,
  eventsInArea,
  pointInPolygon,
  rectangleFrom,
  reviewCameraIds,
} from "./area";

const camera = (id: string, lat: number | null, lon = 0.12): CameraOut => ({
  id,
  name: id,
  site_id: "s",
  position: lat === null ? null : { lat, lon, heading_deg: 90, fov_deg: 70, floor: null },
  status: { state: "streaming", since: "2026-02-01T12:00:00Z", reason: "" },
});

const RECT: MapArea = { kind: "rectangle", south: 52.1995, west: 0.119, north: 52.2005, east: 0.122 };
// A triangle: (52.0, 0.0), (52.0, 1.0), (53.0, 0.0).
const TRIANGLE: MapArea = {
  kind: "polygon",
  points: [
    { lat: 52, lon: 0 },
    { lat: 52, lon: 1 },
    { lat: 53, lon: 0 },
  ],
};

describe("rectangleFrom", () => {
  it("orders the corners of a drag in any direction", () => {
    const expected = { kind: "rectangle", south: 52.1, west: 0.1, north: 52.3, east: 0.2 };
    expect(rectangleFrom({ lat: 52.3, lon: 0.2 }, { lat: 52.1, lon: 0.1 })).toEqual(expected);
    expect(rectangleFrom({ lat: 52.1, lon: 0.2 }, { lat: 52.3, lon: 0.1 })).toEqual(expected);
  });

  it("refuses a rectangle without width or height (a click, not a drag)", () => {
    expect(rectangleFrom({ lat: 52.1, lon: 0.1 }, { lat: 52.1, lon: 0.3 })).toBeNull();
    expect(rectangleFrom({ lat: 52.1, lon: 0.1 }, { lat: 52.4, lon: 0.1 })).toBeNull();
  });

  it("shifts a rectangle drawn on a repeated world copy back into range", () => {
    const area = rectangleFrom({ lat: 10, lon: 370 }, { lat: 20, lon: 380 });
    expect(area).toEqual({ kind: "rectangle", south: 10, west: 10, north: 20, east: 20 });
    const west = rectangleFrom({ lat: 10, lon: -350 }, { lat: 20, lon: -340 });
    expect(west).toEqual({ kind: "rectangle", south: 10, west: 10, north: 20, east: 20 });
  });

  it("cuts a rectangle across the antimeridian at 180 degrees and clamps latitudes", () => {
    expect(rectangleFrom({ lat: -100, lon: 170 }, { lat: 95, lon: 190 })).toEqual({
      kind: "rectangle",
      south: -90,
      west: 170,
      north: 90,
      east: 180,
    });
  });
});

describe("areaContains", () => {
  it("takes a rectangle's edges as inside", () => {
    expect(areaContains(RECT, 52.2, 0.12)).toBe(true);
    expect(areaContains(RECT, 52.1995, 0.119)).toBe(true);
    expect(areaContains(RECT, 52.2005, 0.122)).toBe(true);
    expect(areaContains(RECT, 52.201, 0.12)).toBe(false);
    expect(areaContains(RECT, 52.2, 0.1189)).toBe(false);
  });

  it("finds points inside a polygon with the even-odd rule", () => {
    expect(areaContains(TRIANGLE, 52.2, 0.2)).toBe(true);
    // Inside the bounding box but beyond the hypotenuse.
    expect(areaContains(TRIANGLE, 52.8, 0.8)).toBe(false);
    expect(areaContains(TRIANGLE, 51.9, 0.2)).toBe(false);
  });

  it("treats a concave polygon's notch as outside", () => {
    // A U shape open to the north: the notch between the arms is outside.
    const u = [
      { lat: 0, lon: 0 },
      { lat: 0, lon: 3 },
      { lat: 3, lon: 3 },
      { lat: 3, lon: 2 },
      { lat: 1, lon: 2 },
      { lat: 1, lon: 1 },
      { lat: 3, lon: 1 },
      { lat: 3, lon: 0 },
    ];
    expect(pointInPolygon(u, 2, 1.5)).toBe(false);
    expect(pointInPolygon(u, 2, 0.5)).toBe(true);
    expect(pointInPolygon(u, 0.5, 1.5)).toBe(true);
  });

  it("has nothing inside a polygon of fewer than three points", () => {
    expect(areaContains({ kind: "polygon", points: [{ lat: 0, lon: 0 }, { lat: 1, lon: 1 }] }, 0.5, 0.5)).toBe(false);
    expect(pointInPolygon([], 0, 0)).toBe(false);
  });
});

describe("camerasInArea", () => {
  it("keeps the placed cameras inside, in list order; cameras without a position are outside", () => {
    const cameras = [camera("north", 52.201), camera("c", 52.2), camera("unplaced", null), camera("a", 52.2001)];
    expect(camerasInArea(cameras, RECT).map((c) => c.id)).toEqual(["c", "a"]);
    expect(camerasInArea([], RECT)).toEqual([]);
  });
});

describe("areaParam / areaEventQuery", () => {
  it("sends a rectangle as bbox south,west,north,east at full precision", () => {
    expect(areaParam(RECT)).toEqual({ bbox: "52.1995,0.119,52.2005,0.122" });
    expect(areaEventQuery(RECT, 200)).toEqual({ bbox: "52.1995,0.119,52.2005,0.122", limit: 200 });
  });

  it("sends a polygon as lat,lon pairs separated by semicolons", () => {
    expect(areaParam(TRIANGLE)).toEqual({ polygon: "52,0;52,1;53,0" });
    expect(areaKey(TRIANGLE)).toBe("52,0;52,1;53,0");
    expect(areaKey(RECT)).not.toBe(areaKey({ ...RECT, north: 52.3 }));
  });
});

describe("labels", () => {
  it("counts cameras in words", () => {
    expect(areaChipLabel(1)).toBe("Area: 1 camera");
    expect(areaChipLabel(0)).toBe("Area: 0 cameras");
    expect(areaCountText(2, 5)).toBe("2 of 5 cameras in the selected area");
    expect(areaCountText(1, 1)).toBe("1 of 1 camera in the selected area");
  });
});

describe("reviewCameraIds", () => {
  const inside = ["a", "b", "c", "d", "e"].map((id) => camera(id, 52.2));

  it("opens at most four cameras, the selected one first", () => {
    expect(reviewCameraIds(inside, null)).toEqual(["a", "b", "c", "d"]);
    expect(reviewCameraIds(inside, "e")).toEqual(["e", "a", "b", "c"]);
    expect(reviewCameraIds(inside, "b", 2)).toEqual(["b", "a"]);
  });

  it("ignores a selected camera outside the area", () => {
    expect(reviewCameraIds(inside.slice(0, 2), "outside")).toEqual(["a", "b"]);
    expect(reviewCameraIds([], "a")).toEqual([]);
  });
});

describe("eventsInArea", () => {
  const event = (id: string, cameraId: string, startS: number, end: string | null = null): EventOut => ({
    id,
    camera_id: cameraId,
    kind: "motion",
    start: new Date(Date.UTC(2026, 1, 1, 12, 0, startS)).toISOString(),
    end,
    score: 0.5,
    label: "motion",
  });
  const ids = new Set(["in1", "in2"]);

  it("keeps only the events of cameras inside, newest first, without duplicates", () => {
    const found = [event("e3", "in1", 30), event("e1", "in2", 10), event("x1", "out", 40)];
    const live = [event("e4", "in2", 40), event("e3", "in1", 30), event("x2", "out", 50)];
    expect(eventsInArea(found, live, ids).map((e) => e.id)).toEqual(["e4", "e3", "e1"]);
  });

  it("takes the live version of an event the search found too, but never reopens an ended one", () => {
    const ended = event("e1", "in1", 10, "2026-02-01T12:00:20.000Z");
    expect(eventsInArea([event("e1", "in1", 10)], [ended], ids)).toEqual([ended]);
    expect(eventsInArea([ended], [event("e1", "in1", 10)], ids)).toEqual([ended]);
  });

  it("has nothing when no camera is inside", () => {
    expect(eventsInArea([event("e1", "in1", 10)], [event("e2", "in2", 20)], new Set())).toEqual([]);
  });
});
