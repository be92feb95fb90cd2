import { describe, expect, it } from "vitest";

import { reviewRoute, viewOf } from "./routes";

describe("viewOf", () => {
  it("reads the overview for the root and unknown routes", () => {
    for (const route of ["/", "/incident/inc-1", "/settings", "/nowhere/x"]) {
      expect(viewOf(route)).toEqual({ name: "overview", cameraId: null, cameraIds: [], atMs: null });
    }
  });

  it("reads a live view's focused camera", () => {
    expect(viewOf("/live")).toEqual({ name: "live", cameraId: null, cameraIds: [], atMs: null });
    expect(viewOf("/live/cam%201")).toEqual({ name: "live", cameraId: "cam 1", cameraIds: ["cam 1"], atMs: null });
  });

  it("reads one or several review cameras and a moment", () => {
    expect(viewOf("/review/cam1@1700000000000")).toEqual({
      name: "review",
      cameraId: "cam1",
      cameraIds: ["cam1"],
      atMs: 1_700_000_000_000,
    });
    expect(viewOf("/review/cam1,cam2,cam3")).toMatchObject({ cameraId: "cam1", cameraIds: ["cam1", "cam2", "cam3"] });
    expect(viewOf("/search")).toMatchObject({ name: "search", cameraIds: [] });
  });

  it("skips empty and malformed camera parts and a moment that is not a number", () => {
    expect(viewOf("/review/,cam1,,%E0%A4%A,cam2@soon")).toEqual({
      name: "review",
      cameraId: "cam1",
      cameraIds: ["cam1", "cam2"],
      atMs: null,
    });
  });
});

describe("reviewRoute", () => {
  it("names the cameras comma-separated, escaped, with the moment after @", () => {
    expect(reviewRoute(["cam1", "cam2"])).toBe("/review/cam1,cam2");
    expect(reviewRoute(["a,b", "c@d"], 1234.4)).toBe("/review/a%2Cb,c%40d@1234");
    expect(reviewRoute([])).toBe("/review");
  });

  it("round-trips through viewOf", () => {
    const route = reviewRoute(["gate 1", "yard,west", "dock"], 1_700_000_000_000);
    expect(viewOf(route)).toEqual({
      name: "review",
      cameraId: "gate 1",
      cameraIds: ["gate 1", "yard,west", "dock"],
      atMs: 1_700_000_000_000,
    });
  });
});
