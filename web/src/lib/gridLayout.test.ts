import { describe, expect, it } from "vitest";

import { fittingSize, gridColumns, gridPage, isGridSize } from "./gridLayout";

describe("grid layouts", () => {
  it("has square layouts of 1, 4, 9 and 16", () => {
    expect([1, 4, 9, 16].map((n) => (isGridSize(n) ? gridColumns(n) : 0))).toEqual([1, 2, 3, 4]);
    expect(isGridSize(6)).toBe(false);
  });
  it("fills every slot, empty ones with null, and pages through the cameras", () => {
    const cams = ["a", "b", "c", "d", "e", "f"];
    expect(gridPage(cams, 4, 0)).toEqual({ tiles: ["a", "b", "c", "d"], page: 0, pages: 2 });
    expect(gridPage(cams, 4, 1)).toEqual({ tiles: ["e", "f", null, null], page: 1, pages: 2 });
    expect(gridPage(cams, 9, 0).tiles.filter((t) => t === null)).toHaveLength(3);
  });
  it("clamps a page out of range (cameras removed meanwhile)", () => {
    expect(gridPage(["a", "b"], 1, 7).page).toBe(1);
    expect(gridPage(["a"], 1, -3).page).toBe(0);
    expect(gridPage([], 4, 2)).toEqual({ tiles: [null, null, null, null], page: 0, pages: 1 });
  });
  it("picks the smallest layout showing all cameras, 16 at most", () => {
    expect([0, 1, 2, 5, 9, 10, 40].map(fittingSize)).toEqual([1, 1, 4, 9, 9, 16, 16]);
  });
});
