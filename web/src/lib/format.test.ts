import { describe, expect, it } from "vitest";

import { formatBytes, formatDuration, formatEventDuration, formatTime } from "./format";

describe("formatDuration", () => {
  it.each([
    [0, "0.0 s"],
    [0.44, "0.4 s"],
    [9.84, "9.8 s"],
    [10, "10 s"],
    [59.4, "59 s"],
    [60, "1 min 00 s"],
    [245, "4 min 05 s"],
    [3599, "59 min 59 s"],
    [3600, "1 h 00 min"],
    [3725, "1 h 02 min"],
  ])("formats %s seconds as %s", (seconds, expected) => {
    expect(formatDuration(seconds)).toBe(expected);
  });

  it("refuses nonsense", () => {
    expect(formatDuration(-1)).toBe("—");
    expect(formatDuration(Number.NaN)).toBe("—");
  });
});

describe("formatEventDuration", () => {
  it("says ongoing while the event has no end", () => {
    expect(formatEventDuration("2025-11-25T10:00:00Z", null)).toBe("ongoing");
  });

  it("gives the length of an ended event", () => {
    expect(formatEventDuration("2025-11-25T10:00:00Z", "2025-11-25T10:01:30.000Z")).toBe("1 min 30 s");
  });
});

describe("formatTime", () => {
  const now = new Date("2025-11-25T18:00:00Z");

  it("shows only the time for today", () => {
    expect(formatTime("2025-11-25T14:03:27Z", now, "UTC")).toBe("14:03:27");
  });

  it("adds the date for another day", () => {
    expect(formatTime("2025-11-24T23:59:01Z", now, "UTC")).toBe("24 Nov 23:59:01");
  });

  it("uses the given time zone", () => {
    expect(formatTime("2025-11-25T14:03:27Z", now, "Europe/Paris")).toBe("15:03:27");
  });

  it("shows a dash for an invalid timestamp", () => {
    expect(formatTime("not a time", now, "UTC")).toBe("—");
  });
});

describe("formatBytes", () => {
  it("uses decimal units", () => {
    expect(formatBytes(812)).toBe("812 B");
    expect(formatBytes(4_200_000)).toBe("4.2 MB");
  });
});
