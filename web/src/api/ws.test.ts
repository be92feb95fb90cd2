import { describe, expect, it } from "vitest";

import { backoffDelay, liveSocketUrl, parseWsMessage, withSince } from "./ws";

const EVENT = {
  id: "ev1",
  camera_id: "cam1",
  kind: "motion",
  start: "2025-11-25T10:00:00Z",
  end: null,
  score: 0.7,
  label: "motion",
};

const HEAD = {
  id: "inc-1",
  revision: 2,
  type_code: "fire",
  category: "safety",
  title: "Smoke",
  state: "new",
  priority: "high",
  source: "operator",
  site_id: null,
  camera_ids: ["cam1"],
  lat: null,
  lon: null,
  owner: null,
  assignee_user: null,
  assignee_team: null,
  alarm_count: 1,
  escalation_level: 0,
  created_at: "2025-11-25T10:00:00Z",
  updated_at: "2025-11-25T10:00:00Z",
};

describe("incident messages", () => {
  it("accepts an incident push and a cursor", () => {
    const raw = { type: "incident", cursor: 9, change: "created", actor: null, escalated_to: null, incident: HEAD };
    expect(parseWsMessage(JSON.stringify(raw))).toEqual({
      type: "incident",
      cursor: 9,
      change: "created",
      actor: null,
      incident: HEAD,
    });
    expect(parseWsMessage(JSON.stringify({ type: "cursor", cursor: 9, replayed: 2, resync: true }))).toEqual({
      type: "cursor",
      cursor: 9,
      replayed: 2,
      resync: true,
    });
  });

  it.each([
    ["no cursor", { type: "incident", change: "created", incident: HEAD }],
    ["an unknown change", { type: "incident", cursor: 1, change: "deleted", incident: HEAD }],
    ["an unknown state", { type: "incident", cursor: 1, change: "created", incident: { ...HEAD, state: "lost" } }],
    ["an unknown priority", { type: "incident", cursor: 1, change: "created", incident: { ...HEAD, priority: "p0" } }],
  ])("rejects %s", (_name, raw) => {
    expect(parseWsMessage(JSON.stringify(raw))).toBeNull();
  });

  it("adds the since cursor to the socket URL", () => {
    expect(withSince("ws://h/api/ws", "now")).toBe("ws://h/api/ws?since=now");
    expect(withSince("ws://h/api/ws", null)).toBe("ws://h/api/ws");
  });
});

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
