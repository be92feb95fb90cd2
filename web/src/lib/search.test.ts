import { describe, expect, it } from "vitest";

import { EMPTY_FORM, polygonParam, toQuery } from "./search";

describe("toQuery", () => {
  it("sends only the filters given, trimmed", () => {
    expect(toQuery({ ...EMPTY_FORM, objectClass: " car ", cameraId: "gate" }, "1,2,3,4")).toEqual({
      camera_id: ["gate"],
      site: undefined,
      start: undefined,
      end: undefined,
      object_class: "car",
      zone: undefined,
      rule: undefined,
      incident_type: undefined,
      bbox: undefined,
      limit: 200,
    });
  });
  it("uses the map view as bbox only when asked", () => {
    expect(toQuery({ ...EMPTY_FORM, inView: true }, "52,0,53,1").bbox).toBe("52,0,53,1");
    expect(toQuery({ ...EMPTY_FORM, inView: true }, null).bbox).toBeUndefined();
  });
  it("converts local times to UTC and ignores unparseable ones", () => {
    const start = toQuery({ ...EMPTY_FORM, start: "2026-03-01T12:00" }, null).start;
    expect(start).toBe(new Date("2026-03-01T12:00").toISOString());
    expect(toQuery({ ...EMPTY_FORM, end: "not a date" }, null).end).toBeUndefined();
  });
});

describe("polygonParam", () => {
  it("joins lat,lon pairs with semicolons", () => {
    expect(
      polygonParam([
        [52.2, 0.1],
        [52.3, 0.2],
        [52.25, 0.3],
      ]),
    ).toBe("52.200000,0.100000;52.300000,0.200000;52.250000,0.300000");
  });
});
