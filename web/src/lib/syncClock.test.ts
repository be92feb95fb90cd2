import { describe, expect, it } from "vitest";

import { SyncClock, correctDrift } from "./syncClock";

describe("correctDrift", () => {
  it("does nothing within tolerance", () => {
    expect(correctDrift(10, 10.03)).toEqual({ seekTo: null, rate: 1 });
  });
  it("speeds up a player behind and slows one ahead, bounded", () => {
    expect(correctDrift(10, 9.8).rate).toBeCloseTo(1.1);
    expect(correctDrift(10, 9.9).rate).toBeCloseTo(1.05);
    expect(correctDrift(10, 10.1).rate).toBeCloseTo(0.95);
    expect(correctDrift(10, 10.9).rate).toBeCloseTo(0.9);
  });
  it("seeks when too far off", () => {
    expect(correctDrift(10, 4)).toEqual({ seekTo: 10, rate: 1 });
    expect(correctDrift(10, 12)).toEqual({ seekTo: 10, rate: 1 });
  });
  it("converges: a player 0.5 s behind reaches the clock without a seek", () => {
    let target = 100;
    let current = 99.5;
    for (let step = 0; step < 40; step += 1) {
      const action = correctDrift(target, current);
      expect(action.seekTo).toBeNull();
      target += 0.25;
      current += 0.25 * action.rate;
    }
    expect(Math.abs(target - current)).toBeLessThan(0.07);
  });
});

describe("SyncClock", () => {
  it("advances only while playing, and seeks", () => {
    let now = 0;
    const clock = new SyncClock(5_000, () => now);
    now = 1000;
    expect(clock.wallMs).toBe(5_000);
    clock.play();
    now = 3000;
    expect(clock.wallMs).toBe(7_000);
    clock.pause();
    now = 9000;
    expect(clock.wallMs).toBe(7_000);
    clock.seek(100);
    clock.play();
    now = 9500;
    expect(clock.wallMs).toBe(600);
    expect(clock.playing).toBe(true);
  });
});
