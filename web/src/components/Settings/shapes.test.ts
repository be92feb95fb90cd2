import { describe, expect, it } from "vitest";

import { type JsonObject, SettingsRejected, errorFor, fieldErrors } from "../../api/settings";
import { numberValue, setPosition, toggleRole } from "./form";
import { isComplete, nextName, normalize, shapesOf, withShapes } from "./shapes";

describe("shapes", () => {
  it("normalizes clicks to 0..1 with 4 decimals, clamped", () => {
    expect(normalize(320, 90, 640, 360)).toEqual([0.5, 0.25]);
    expect(normalize(-5, 400, 640, 360)).toEqual([0, 1]);
    expect(normalize(1, 1, 3, 3)).toEqual([0.3333, 0.3333]);
  });

  it("reads zones, lines and masks and writes them back keeping other keys", () => {
    const camera: JsonObject = {
      id: "gate",
      zones: [
        { name: "door", polygon: [[0, 0], [1, 0], [1, 1]], anchor: "center" },
        { name: "tripwire", line: [[0, 0.5], [1, 0.5]], direction: "in" },
      ],
      privacy_masks: [{ name: "window", polygon: [[0, 0], [0.2, 0], [0.2, 0.2]] }],
    };
    const shapes = shapesOf(camera);
    expect(shapes.map((s) => [s.kind, s.name, s.points.length])).toEqual([
      ["zone", "door", 3],
      ["line", "tripwire", 2],
      ["mask", "window", 3],
    ]);
    const back = withShapes(camera, shapes.filter((s) => s.name !== "window"));
    expect(back.zones).toEqual(camera.zones);
    expect(back.privacy_masks).toEqual([]);
    expect(back.id).toBe("gate");
  });

  it("knows when a shape is complete and picks free names", () => {
    expect(isComplete("line", 2)).toBe(true);
    expect(isComplete("line", 3)).toBe(false);
    expect(isComplete("zone", 2)).toBe(false);
    expect(isComplete("mask", 3)).toBe(true);
    expect(nextName("zone", shapesOf({ zones: [{ name: "zone-1", polygon: [] }] }))).toBe("zone-2");
  });
});

describe("form helpers", () => {
  it("keeps what the user typed for the server to judge", () => {
    expect(numberValue("")).toBeUndefined();
    expect(numberValue(" 52.5 ")).toBe(52.5);
    expect(numberValue("north")).toBe("north");
  });

  it("removes an emptied position and toggles roles", () => {
    const camera = { position: { lat: 1 }, inputs: [{ url: "x", roles: ["record", "detect"] }] };
    expect(setPosition(camera, "lat", undefined)).not.toHaveProperty("position");
    expect(toggleRole(camera, 0, "detect", false).inputs).toEqual([{ url: "x", roles: ["record"] }]);
  });

  it("maps rejected edits to fields", () => {
    const err = new SettingsRejected("bad", 422, "config_rejected", [
      { field: "name", path: "cameras[1].name", message: "too short" },
      { field: "zones[0].polygon", path: "cameras[1].zones[0].polygon", message: "edges cross" },
      { field: "", path: "sites[0]", message: "whole file" },
    ]);
    const errors = fieldErrors(err);
    expect(errors.name).toBe("too short");
    expect(errors[""]).toBe("whole file");
    expect(errorFor(errors, "zones")).toBe("[0].polygon: edges cross");
    expect(errorFor(errors, "name")).toBe("too short");
    expect(errorFor(errors, "site")).toBeUndefined();
    expect(fieldErrors(new Error("x"))).toEqual({});
  });
});
