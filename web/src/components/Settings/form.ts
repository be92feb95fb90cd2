/** Reading and writing a camera entry's fields from form controls (pure; tested in form.test.ts). */
import type { Json, JsonObject } from "../../api/settings";

/** A new camera entry with one input used for both recording and analysis. */
export function blankCamera(site: string): JsonObject {
  return { id: "", name: "", site, enabled: true, inputs: [{ url: "", roles: ["record", "detect"], transport: "tcp" }] };
}

export function text(value: Json | undefined): string {
  return value === null || value === undefined ? "" : String(value);
}

/** A number field: empty means "not set" (the key is removed); anything else is sent as typed so the
 * server's models judge it (a non-number gives a message next to the field). */
export function numberValue(raw: string): Json | undefined {
  const trimmed = raw.trim();
  if (trimmed === "") return undefined;
  const parsed = Number(trimmed);
  return Number.isFinite(parsed) ? parsed : trimmed;
}

/** `object` with `key` set to `value`, or without `key` when `value` is undefined. */
export function setKey(object: JsonObject, key: string, value: Json | undefined): JsonObject {
  const next = { ...object };
  if (value === undefined) delete next[key];
  else next[key] = value;
  return next;
}

export function asObject(value: Json | undefined): JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? value : {};
}

export function asList(value: Json | undefined): Json[] {
  return Array.isArray(value) ? value : [];
}

/** Set one key of the camera's `position`; an empty position (no key left) is removed. */
export function setPosition(camera: JsonObject, key: string, value: Json | undefined): JsonObject {
  const position = setKey(asObject(camera.position), key, value);
  return setKey(camera, "position", Object.keys(position).length ? position : undefined);
}

/** Set one key of input `index`. */
export function setInput(camera: JsonObject, index: number, key: string, value: Json | undefined): JsonObject {
  const inputs = asList(camera.inputs).map((item, i) => (i === index ? setKey(asObject(item), key, value) : item));
  return { ...camera, inputs };
}

/** Toggle a role (`record` / `detect`) of input `index`. */
export function toggleRole(camera: JsonObject, index: number, role: string, on: boolean): JsonObject {
  const roles = asList(asObject(asList(camera.inputs)[index]).roles).filter((r) => r !== role);
  return setInput(camera, index, "roles", on ? [...roles, role] : roles);
}
