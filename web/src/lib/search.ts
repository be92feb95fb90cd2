/** The search form of the console and the API query it makes. */
import type { SearchQuery } from "../api/review";

export interface SearchForm {
  cameraId: string;
  site: string;
  start: string;
  end: string;
  objectClass: string;
  zone: string;
  rule: string;
  incidentType: string;
  inView: boolean;
}

export const EMPTY_FORM: SearchForm = {
  cameraId: "",
  site: "",
  start: "",
  end: "",
  objectClass: "",
  zone: "",
  rule: "",
  incidentType: "",
  inView: false,
};

/** `datetime-local` text (the operator's time zone) to ISO UTC; empty stays undefined. */
function isoOf(local: string): string | undefined {
  if (!local) return undefined;
  const ms = Date.parse(local);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** The search query of a form; `bbox` is the map view when "only cameras in the map view" is ticked. */
export function toQuery(form: SearchForm, bbox: string | null): SearchQuery {
  const text = (value: string) => (value.trim() ? value.trim() : undefined);
  return {
    camera_id: form.cameraId ? [form.cameraId] : undefined,
    site: text(form.site),
    start: isoOf(form.start),
    end: isoOf(form.end),
    object_class: text(form.objectClass),
    zone: text(form.zone),
    rule: text(form.rule),
    incident_type: text(form.incidentType),
    bbox: form.inView && bbox ? bbox : undefined,
    limit: 200,
  };
}

/** `lat,lon;lat,lon;...` of a drawn area (the API's `polygon`). */
export function polygonParam(points: readonly [number, number][]): string {
  return points.map(([lat, lon]) => `${lat.toFixed(6)},${lon.toFixed(6)}`).join(";");
}

