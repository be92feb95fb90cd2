import { describe, expect, it } from "vitest";

import type { IncidentOut } from "../api/client";
import type { IncidentMessage, WsIncidentHead } from "../api/ws";
import {
  INITIAL_INCIDENTS,
  type QueueItem,
  allowedActions,
  formatAge,
  fromHead,
  incidentsReducer,
  mergeQueue,
  sortQueue,
} from "./incidents";

const T0 = Date.parse("2026-02-01T12:00:00Z");
const iso = (offsetS: number) => new Date(T0 + offsetS * 1000).toISOString();

function head(id: string, overrides: Partial<WsIncidentHead> = {}): WsIncidentHead {
  return {
    id,
    revision: 1,
    type_code: "fire",
    category: "safety",
    title: `Incident ${id}`,
    state: "new",
    priority: "medium",
    source: "operator",
    site_id: "hq",
    camera_ids: ["cam1"],
    lat: null,
    lon: null,
    owner: null,
    assignee_user: null,
    assignee_team: null,
    alarm_count: 1,
    escalation_level: 0,
    created_at: iso(0),
    updated_at: iso(0),
    ...overrides,
  };
}

function full(id: string, overrides: Partial<WsIncidentHead> = {}): IncidentOut {
  const h = head(id, overrides);
  return {
    ...h,
    created_by: "admin",
    last_alarm_at: null,
    resolution: null,
    next_escalation_at: null,
    allowed_actions: allowedActions(h.state),
    has_caller: false,
  };
}

const item = (id: string, overrides: Partial<WsIncidentHead> = {}): QueueItem => fromHead(head(id, overrides));
const push = (h: WsIncidentHead, cursor: number, change: IncidentMessage["change"] = "created"): IncidentMessage => ({
  type: "incident",
  cursor,
  change,
  actor: "op",
  incident: h,
});

describe("queue order", () => {
  it("puts the most urgent first, then the one waiting longest, then by id", () => {
    const sorted = sortQueue([
      item("low-old", { priority: "low", created_at: iso(-900) }),
      item("med-new", { created_at: iso(-10) }),
      item("crit", { priority: "critical", created_at: iso(0) }),
      item("med-old-b", { created_at: iso(-60) }),
      item("med-old-a", { created_at: iso(-60) }),
    ]);
    expect(sorted.map((i) => i.id)).toEqual(["crit", "med-old-a", "med-old-b", "med-new", "low-old"]);
  });
});

describe("mergeQueue", () => {
  it("keeps the newer revision and drops incidents that are no longer open", () => {
    const current = [item("a", { revision: 3, state: "acknowledged" }), item("b")];
    const merged = mergeQueue(current, [item("a", { revision: 2 }), item("b", { revision: 2, state: "resolved" })]);
    expect(merged.map((i) => [i.id, i.revision, i.state])).toEqual([["a", 3, "acknowledged"]]);
  });

  it("derives the allowed actions of a pushed head from its state", () => {
    expect(fromHead(head("x", { state: "on_hold" })).allowed_actions).toEqual(["resume", "resolve"]);
    expect(allowedActions("closed")).toEqual(["reopen"]);
  });
});

describe("incidentsReducer", () => {
  it("adds a created incident live, marks it fresh and remembers the cursor", () => {
    const state = incidentsReducer(INITIAL_INCIDENTS, { type: "ws", message: push(head("n", { priority: "high" }), 5) });
    expect(state.items.map((i) => i.id)).toEqual(["n"]);
    expect(state.fresh).toEqual(["n"]);
    expect(state.cursor).toBe(5);
    const seen = incidentsReducer(state, { type: "seen", id: "n" });
    expect(seen.fresh).toEqual([]);
  });

  it("ignores a stale or repeated push and removes a resolved incident", () => {
    let state = incidentsReducer(INITIAL_INCIDENTS, { type: "ws", message: push(head("n", { revision: 2 }), 5) });
    state = incidentsReducer(state, { type: "ws", message: push(head("n", { revision: 1, title: "old" }), 4, "note") });
    expect(state.items[0]?.title).toBe("Incident n");
    expect(state.cursor).toBe(5);
    state = incidentsReducer(state, {
      type: "ws",
      message: push(head("n", { revision: 3, state: "resolved" }), 6, "transition"),
    });
    expect(state.items).toEqual([]);
    expect(state.fresh).toEqual([]);
  });

  it("asks for a reload when the server says the replay is incomplete", () => {
    const state = incidentsReducer(INITIAL_INCIDENTS, {
      type: "ws",
      message: { type: "cursor", cursor: 40, replayed: 0, resync: true },
    });
    expect(state.resync).toBe(1);
    expect(state.cursor).toBe(40);
    const quiet = incidentsReducer(state, { type: "ws", message: { type: "cursor", cursor: 41, replayed: 1, resync: false } });
    expect(quiet.resync).toBe(1);
  });

  it("takes an HTTP snapshot as authoritative but keeps pushes newer than the request", () => {
    let state = incidentsReducer(INITIAL_INCIDENTS, { type: "ws", message: push(head("gone"), 1) });
    state = incidentsReducer(state, { type: "ws", message: push(head("late", { updated_at: iso(5) }), 2) });
    state = incidentsReducer(state, { type: "ws", message: push(head("kept", { revision: 4, state: "in_progress" }), 3) });
    state = incidentsReducer(state, {
      type: "loaded",
      incidents: [full("kept", { revision: 3 }), full("other", { priority: "critical" })],
      requestedAt: T0 + 1000,
    });
    expect(state.items.map((i) => [i.id, i.revision])).toEqual([
      ["other", 1],
      ["kept", 4],
      ["late", 1],
    ]);
    expect(state.fresh).toEqual(["late", "kept"]);
    expect(state.loaded).toBe(true);
  });

  it("applies the answer of an action taken here", () => {
    const state = incidentsReducer(INITIAL_INCIDENTS, { type: "ws", message: push(head("a"), 1) });
    const acked = incidentsReducer(state, { type: "updated", incident: full("a", { revision: 2, state: "acknowledged" }) });
    expect(acked.items[0]?.state).toBe("acknowledged");
    expect(acked.items[0]?.allowed_actions).toEqual(["start", "hold", "resolve"]);
    expect(acked.fresh).toEqual([]);
  });
});

describe("formatAge", () => {
  it.each([
    [12, "12 s"],
    [125, "2 min"],
    [3 * 3600 + 300, "3 h 5 min"],
    [3 * 86400, "3 d"],
  ])("%i s ago is %s", (seconds, text) => {
    expect(formatAge(iso(-seconds), T0)).toBe(text);
  });
});
