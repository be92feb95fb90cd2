import { describe, expect, it } from "vitest";

import type { CameraOut, EventOut, SegmentOut } from "../api/client";
import { INITIAL_STATE, consoleReducer, findCoveringSegment, mergeEvents } from "./state";

function event(id: string, start: string, end: string | null = null, cameraId = "cam1"): EventOut {
  return { id, camera_id: cameraId, kind: "motion", start, end, score: 0.5, label: "motion" };
}

function camera(id: string, state: CameraOut["status"]["state"], since: string): CameraOut {
  return { id, name: id.toUpperCase(), site_id: "hq", position: null, status: { state, since, reason: "" } };
}

function segment(id: number, start: string, end: string): SegmentOut {
  return {
    id,
    camera_id: "cam1",
    start,
    end,
    duration_s: (Date.parse(end) - Date.parse(start)) / 1000,
    size_bytes: 1000,
    video_codec: "h264",
    width: 640,
    height: 480,
    media_url: `/api/recordings/${id}/media`,
    tier: "hot",
  };
}

describe("mergeEvents", () => {
  it("orders newest first whatever the arrival order", () => {
    const merged = mergeEvents(
      [event("a", "2025-11-25T10:00:00Z")],
      [event("c", "2025-11-25T10:00:02Z"), event("b", "2025-11-25T10:00:01Z")],
    );
    expect(merged.map((e) => e.id)).toEqual(["c", "b", "a"]);
  });

  it("replaces an event by id instead of duplicating it", () => {
    const merged = mergeEvents(
      [event("a", "2025-11-25T10:00:00Z")],
      [event("a", "2025-11-25T10:00:00Z", "2025-11-25T10:00:05Z")],
    );
    expect(merged).toHaveLength(1);
    expect(merged[0]?.end).toBe("2025-11-25T10:00:05Z");
  });

  it("never turns an ended event back into an ongoing one (stale poll after the WS 'ended')", () => {
    const ended = event("a", "2025-11-25T10:00:00Z", "2025-11-25T10:00:05Z");
    const merged = mergeEvents([ended], [event("a", "2025-11-25T10:00:00Z", null)]);
    expect(merged[0]?.end).toBe("2025-11-25T10:00:05Z");
  });

  it("keeps only the newest events up to the cap", () => {
    const many = Array.from({ length: 5 }, (_, i) => event(`e${i}`, `2025-11-25T10:00:0${i}Z`));
    expect(mergeEvents([], many, 3).map((e) => e.id)).toEqual(["e4", "e3", "e2"]);
  });
});

describe("consoleReducer", () => {
  it("adds a started event from the WebSocket on top, then marks it ended", () => {
    let state = consoleReducer(INITIAL_STATE, {
      type: "events_loaded",
      events: [event("old", "2025-11-25T09:00:00Z", "2025-11-25T09:00:03Z")],
    });
    state = consoleReducer(state, {
      type: "ws",
      message: { type: "event", state: "started", event: event("new", "2025-11-25T10:00:00Z") },
    });
    expect(state.events.map((e) => [e.id, e.end])).toEqual([
      ["new", null],
      ["old", "2025-11-25T09:00:03Z"],
    ]);
    state = consoleReducer(state, {
      type: "ws",
      message: { type: "event", state: "ended", event: event("new", "2025-11-25T10:00:00Z", "2025-11-25T10:00:09Z") },
    });
    expect(state.events[0]?.end).toBe("2025-11-25T10:00:09Z");
    expect(state.events).toHaveLength(2);
  });

  it("applies a camera status change to that camera only", () => {
    let state = consoleReducer(INITIAL_STATE, {
      type: "cameras_loaded",
      cameras: [camera("cam1", "streaming", "2025-11-25T10:00:00Z"), camera("cam2", "streaming", "2025-11-25T10:00:00Z")],
    });
    state = consoleReducer(state, {
      type: "ws",
      message: {
        type: "camera_status",
        camera_id: "cam2",
        status: { state: "stalled", since: "2025-11-25T10:05:00Z", reason: "no frames for 10 s" },
      },
    });
    expect(state.cameras.map((c) => c.status.state)).toEqual(["streaming", "stalled"]);
    expect(state.cameras[1]?.status.reason).toBe("no frames for 10 s");
  });

  it("keeps a newer WebSocket status over an older polled snapshot", () => {
    let state = consoleReducer(INITIAL_STATE, {
      type: "cameras_loaded",
      cameras: [camera("cam1", "streaming", "2025-11-25T10:00:00Z")],
    });
    state = consoleReducer(state, {
      type: "ws",
      message: {
        type: "camera_status",
        camera_id: "cam1",
        status: { state: "offline", since: "2025-11-25T10:10:00Z", reason: "connection refused" },
      },
    });
    state = consoleReducer(state, {
      type: "cameras_loaded",
      cameras: [camera("cam1", "streaming", "2025-11-25T10:00:00Z")],
    });
    expect(state.cameras[0]?.status.state).toBe("offline");
  });

  it("keeps unchanged cameras (and the list) as the same objects across polls", () => {
    const first = consoleReducer(INITIAL_STATE, {
      type: "cameras_loaded",
      cameras: [camera("cam1", "streaming", "2025-11-25T10:00:00Z"), camera("cam2", "streaming", "2025-11-25T10:00:00Z")],
    });
    const same = consoleReducer(first, {
      type: "cameras_loaded",
      cameras: [camera("cam1", "streaming", "2025-11-25T10:00:00Z"), camera("cam2", "streaming", "2025-11-25T10:00:00Z")],
    });
    expect(same.cameras).toBe(first.cameras);
    const changed = consoleReducer(first, {
      type: "cameras_loaded",
      cameras: [camera("cam1", "streaming", "2025-11-25T10:00:00Z"), camera("cam2", "stalled", "2025-11-25T10:05:00Z")],
    });
    expect(changed.cameras).not.toBe(first.cameras);
    expect(changed.cameras[0]).toBe(first.cameras[0]);
    expect(changed.cameras[1]?.status.state).toBe("stalled");
  });

  it("ignores a status for an unknown camera", () => {
    const state = consoleReducer(INITIAL_STATE, {
      type: "ws",
      message: {
        type: "camera_status",
        camera_id: "ghost",
        status: { state: "offline", since: "2025-11-25T10:10:00Z", reason: "" },
      },
    });
    expect(state.cameras).toEqual([]);
  });
});

describe("findCoveringSegment", () => {
  const segments = [
    segment(1, "2025-11-25T10:00:00Z", "2025-11-25T10:00:10Z"),
    segment(2, "2025-11-25T10:00:10Z", "2025-11-25T10:00:20Z"),
  ];

  it("finds the segment whose [start, end) contains the moment", () => {
    expect(findCoveringSegment(segments, "2025-11-25T10:00:04.500Z")?.id).toBe(1);
    expect(findCoveringSegment(segments, "2025-11-25T10:00:10Z")?.id).toBe(2);
  });

  it("returns null when no segment covers it", () => {
    expect(findCoveringSegment(segments, "2025-11-25T10:00:20Z")).toBeNull();
    expect(findCoveringSegment([], "2025-11-25T10:00:05Z")).toBeNull();
  });
});
