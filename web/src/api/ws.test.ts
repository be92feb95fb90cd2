import { describe, expect, it } from "vitest";

import { backoffDelay, liveSocketUrl, parseWsMessage } from "./ws";

const EVENT = {
  id: "ev1",
  camera_id: "cam1",
  kind: "motion",
  start: "2025-11-25T10:00:00Z",
  end: null,
  score: 0.7,
  label: "motion",
};

describe("parseWsMessage", () => {
  it("accepts an event message", () => {
    const message = parseWsMessage(JSON.stringify({ type: "event", state: "started", event: EVENT }));
    expect(message).toEqual({ type: "event", state: "started", event: EVENT });
  });

  it("accepts an 'updated' event message", () => {
    const event = { ...EVENT, score: 0.9, label: "person" };
    const message = parseWsMessage(JSON.stringify({ type: "event", state: "updated", event }));
    expect(message).toEqual({ type: "event", state: "updated", event });
  });

  it("accepts a camera status message", () => {
    const status = { state: "stalled", since: "2025-11-25T10:00:00Z", reason: "no frames" };
    const message = parseWsMessage(JSON.stringify({ type: "camera_status", camera_id: "cam1", status }));
    expect(message).toEqual({ type: "camera_status", camera_id: "cam1", status });
  });

  it.each([
    ["not JSON", "{oops"],
    ["an unknown type", JSON.stringify({ type: "ping" })],
    ["an unknown event state", JSON.stringify({ type: "event", state: "paused", event: EVENT })],
    ["an event without id", JSON.stringify({ type: "event", state: "ended", event: { ...EVENT, id: undefined } })],
    ["an unknown event kind", JSON.stringify({ type: "event", state: "ended", event: { ...EVENT, kind: "fire" } })],
    [
      "an unknown camera state",
      JSON.stringify({ type: "camera_status", camera_id: "c", status: { state: "asleep", since: "x", reason: "" } }),
    ],
    ["an array", "[]"],
  ])("rejects %s", (_what, raw) => {
    expect(parseWsMessage(raw)).toBeNull();
  });
});

describe("backoffDelay", () => {
  const options = { baseMs: 500, maxMs: 15_000 };

  it("doubles with each attempt", () => {
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, options, () => 1))).toEqual([500, 1000, 2000, 4000]);
  });

  it("is capped at maxMs", () => {
    expect(backoffDelay(20, options, () => 1)).toBe(15_000);
  });

  it("jitters between half and all of the delay", () => {
    expect(backoffDelay(3, options, () => 0)).toBe(2000);
    expect(backoffDelay(3, options, () => 0.5)).toBe(3000);
  });
});

describe("liveSocketUrl", () => {
  it("follows the page's scheme and host", () => {
    expect(liveSocketUrl({ protocol: "http:", host: "127.0.0.1:8080" })).toBe("ws://127.0.0.1:8080/api/ws");
    expect(liveSocketUrl({ protocol: "https:", host: "nvr.example" })).toBe("wss://nvr.example/api/ws");
  });
});
