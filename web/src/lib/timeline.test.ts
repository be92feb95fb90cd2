import { describe, expect, it } from "vitest";

import { barBox, mediaToWall, mergeIntervals, snapToRecording, stepEvent, timeAtFraction, wallToMedia } from "./timeline";

describe("mergeIntervals", () => {
  it("merges overlapping and touching spans, sorts, and drops empty ones", () => {
    expect(
      mergeIntervals([
        { startMs: 50, endMs: 60 },
        { startMs: 0, endMs: 10 },
        { startMs: 10, endMs: 20 },
        { startMs: 15, endMs: 18 },
        { startMs: 30, endMs: 30 },
      ]),
    ).toEqual([
      { startMs: 0, endMs: 20 },
      { startMs: 50, endMs: 60 },
    ]);
  });
  it("joins spans closer than a pixel's worth, keeping visible gaps", () => {
    const spans = [
      { startMs: 0, endMs: 10 },
      { startMs: 12, endMs: 20 },
      { startMs: 40, endMs: 50 },
    ];
    expect(mergeIntervals(spans, 5)).toEqual([
      { startMs: 0, endMs: 20 },
      { startMs: 40, endMs: 50 },
    ]);
    expect(spans[0]).toEqual({ startMs: 0, endMs: 10 }); // inputs untouched
  });
});

describe("bar geometry", () => {
  it("places and clips intervals on the bar", () => {
    expect(barBox({ startMs: 25, endMs: 50 }, 0, 100)).toEqual({ leftPct: 25, widthPct: 25 });
    expect(barBox({ startMs: -50, endMs: 10 }, 0, 100)).toEqual({ leftPct: 0, widthPct: 10 });
    expect(barBox({ startMs: 200, endMs: 300 }, 0, 100)).toBeNull();
    expect(barBox({ startMs: 0, endMs: 1 }, 5, 5)).toBeNull();
  });
  it("maps a click fraction to a time, clamped", () => {
    expect(timeAtFraction(0.5, 1000, 2000)).toBe(1500);
    expect(timeAtFraction(1.7, 1000, 2000)).toBe(2000);
  });
  it("snaps a click in a gap to the nearest recording", () => {
    const spans = [
      { startMs: 0, endMs: 10 },
      { startMs: 100, endMs: 110 },
    ];
    expect(snapToRecording(spans, 5)).toBe(5);
    expect(snapToRecording(spans, 30)).toBe(9);
    expect(snapToRecording(spans, 80)).toBe(100);
    expect(snapToRecording([], 80)).toBeNull();
  });
});

describe("stepEvent", () => {
  const starts = [3000, 1000, 2000];
  it("walks forward and back through events, skipping the current one", () => {
    expect(stepEvent(starts, 0, 1)).toBe(1000);
    expect(stepEvent(starts, 1000, 1)).toBe(2000);
    expect(stepEvent(starts, 2100, -1)).toBe(1000);
    expect(stepEvent(starts, 3000, 1)).toBeNull();
    expect(stepEvent(starts, 1000, -1)).toBeNull();
  });
});

describe("wall clock <-> media time", () => {
  // two fragments with a 30 s gap in the recording between them
  const frags = [
    { start: 0, duration: 10, programDateTime: 1_000_000 },
    { start: 10, duration: 10, programDateTime: 1_040_000 },
  ];
  it("maps through fragments and reports gaps", () => {
    expect(wallToMedia(frags, 1_005_000)).toBe(5);
    expect(wallToMedia(frags, 1_045_000)).toBe(15);
    expect(wallToMedia(frags, 1_020_000)).toBeNull();
    expect(mediaToWall(frags, 12)).toBe(1_042_000);
    expect(mediaToWall(frags, 25)).toBeNull();
  });
});
