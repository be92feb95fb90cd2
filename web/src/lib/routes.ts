/** The console's hash routes: `/live[/cam]`, `/review[/cam[,cam…][@ms]]`, `/search`; anything else is the overview. */

export type ViewName = "overview" | "live" | "review" | "search";

export interface View {
  name: ViewName;
  /** The first camera named in the route (the live grid's focus), or null. */
  cameraId: string | null;
  /** Every camera named in the route, in order (the Review page takes several, comma-separated). */
  cameraIds: string[];
  /** The moment after `@` (epoch ms), or null. */
  atMs: number | null;
}

function decoded(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null; // a malformed %-escape names no camera
  }
}

/** The view a route shows. */
export function viewOf(route: string): View {
  const [, head = "", rest = ""] = /^\/([a-z]+)\/?(.*)$/.exec(route) ?? [];
  if (head !== "live" && head !== "review" && head !== "search") {
    return { name: "overview", cameraId: null, cameraIds: [], atMs: null };
  }
  const [cameras = "", at = ""] = rest.split("@");
  const atMs = at && /^\d+$/.test(at) ? Number(at) : null;
  const cameraIds = cameras
    .split(",")
    .map((part) => (part ? decoded(part) : null))
    .filter((id): id is string => id !== null && id !== "");
  return { name: head, cameraId: cameraIds[0] ?? null, cameraIds, atMs };
}

/** The Review page's route for these cameras (played in sync), optionally at a moment (epoch ms). */
export function reviewRoute(cameraIds: readonly string[], atMs: number | null = null): string {
  const cameras = cameraIds.map((id) => encodeURIComponent(id)).join(",");
  const at = atMs === null ? "" : `@${Math.round(atMs)}`;
  return cameras || at ? `/review/${cameras}${at}` : "/review";
}
