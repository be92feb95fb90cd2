/**
 * Zones, lines and privacy masks of a camera as the YAML holds them (normalized 0..1 `[x, y]` points),
 * and the small pure helpers the shape editor needs (tested in shapes.test.ts).
 */
import type { Json, JsonObject } from "../../api/settings";

export type Point = [number, number];
export type Tool = "zone" | "line" | "mask";

export interface Shape {
  kind: Tool;
  name: string;
  points: Point[];
  /** The entry as the file holds it (other keys such as `direction` or `anchor` are kept). */
  raw: JsonObject;
}

/** Rounded to 4 decimals (0.1 px on a 1920 px frame is more than enough) and clamped to 0..1. */
export function normalize(x: number, y: number, width: number, height: number): Point {
  const clamp = (v: number) => Math.min(1, Math.max(0, Math.round(v * 10_000) / 10_000));
  return [clamp(width > 0 ? x / width : 0), clamp(height > 0 ? y / height : 0)];
}

function points(value: Json | undefined): Point[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (p): p is [number, number] => Array.isArray(p) && p.length === 2 && typeof p[0] === "number" && typeof p[1] === "number",
  );
}

/** The shapes of a camera entry: its `zones` (polygons and lines) and `privacy_masks`. */
export function shapesOf(camera: JsonObject): Shape[] {
  const out: Shape[] = [];
  for (const zone of Array.isArray(camera.zones) ? camera.zones : []) {
    if (typeof zone !== "object" || zone === null || Array.isArray(zone)) continue;
    const isLine = Array.isArray(zone.line);
    out.push({ kind: isLine ? "line" : "zone", name: String(zone.name ?? ""), points: points(isLine ? zone.line : zone.polygon), raw: zone });
  }
  for (const mask of Array.isArray(camera.privacy_masks) ? camera.privacy_masks : []) {
    if (typeof mask !== "object" || mask === null || Array.isArray(mask)) continue;
    out.push({ kind: "mask", name: String(mask.name ?? ""), points: points(mask.polygon), raw: mask });
  }
  return out;
}

/** The camera entry with `zones` and `privacy_masks` replaced by `shapes` (order kept per kind). */
export function withShapes(camera: JsonObject, shapes: Shape[]): JsonObject {
  const zones: Json[] = [];
  const masks: Json[] = [];
  for (const shape of shapes) {
    if (shape.kind === "mask") masks.push({ ...shape.raw, name: shape.name, polygon: shape.points });
    else if (shape.kind === "line") {
      const { polygon: _polygon, ...rest } = shape.raw;
      zones.push({ ...rest, name: shape.name, line: shape.points });
    } else {
      const { line: _line, direction: _direction, ...rest } = shape.raw;
      zones.push({ ...rest, name: shape.name, polygon: shape.points });
    }
  }
  const next: JsonObject = { ...camera };
  if (zones.length || "zones" in camera) next.zones = zones;
  if (masks.length || "privacy_masks" in camera) next.privacy_masks = masks;
  return next;
}

/** Points a finished shape of `tool` needs: a line exactly 2, polygons at least 3. */
export function isComplete(tool: Tool, count: number): boolean {
  return tool === "line" ? count === 2 : count >= 3;
}

/** A free default name (`zone-1`, `line-2`, `mask-1`) that is a valid slug. */
export function nextName(tool: Tool, shapes: Shape[]): string {
  const taken = new Set(shapes.map((shape) => shape.name));
  for (let n = 1; ; n += 1) {
    const name = `${tool}-${n}`;
    if (!taken.has(name)) return name;
  }
}
