import L from "leaflet";
import "leaflet/dist/leaflet.css";
import { useEffect, useMemo, useRef, useState } from "react";

import { type CameraOut, type EventOut, type MapSettingsOut, describeError } from "../api/client";
import { type EventSearchOut, searchEvents } from "../api/review";
import { EMPTY_FORM, type SearchForm as Form, polygonParam, toQuery } from "../lib/search";
import "./console-live.css";

export interface SearchPanelProps {
  cameras: CameraOut[];
  settings: MapSettingsOut | null;
  /** Opens the review page at an event. */
  onOpenEvent?: (event: EventOut) => void;
}

/**
 * Event search by camera, site, time, object class, zone, rule, incident type and map area, with
 * (blurred) snapshot thumbnails, and the results' cameras on a map. Nothing searches people's appearance.
 */
export function SearchPanel({ cameras, settings, onOpenEvent }: SearchPanelProps) {
  const [form, setForm] = useState<Form>(EMPTY_FORM);
  const [result, setResult] = useState<EventSearchOut | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const mapBox = useRef<HTMLDivElement | null>(null);
  const map = useRef<L.Map | null>(null);
  const markers = useRef<L.LayerGroup | null>(null);
  const [drawing, setDrawing] = useState(false);
  const [area, setArea] = useState<[number, number][]>([]);
  const drawingRef = useRef(drawing);
  drawingRef.current = drawing;
  const sites = useMemo(() => [...new Set(cameras.map((c) => c.site_id))].sort(), [cameras]);
  const names = useMemo(() => new Map(cameras.map((c) => [c.id, c.name])), [cameras]);

  useEffect(() => {
    if (!mapBox.current) return undefined;
    const created = L.map(mapBox.current, { minZoom: 2, maxZoom: 20 });
    const placed = cameras.filter((c) => c.position);
    if (placed.length > 0) {
      created.fitBounds(L.latLngBounds(placed.map((c) => [c.position!.lat, c.position!.lon] as [number, number])), {
        maxZoom: 17,
        padding: [30, 30],
      });
    } else created.setView([20, 0], 2);
    markers.current = L.layerGroup().addTo(created);
    created.on("click", (event: L.LeafletMouseEvent) => {
      if (drawingRef.current) setArea((points) => [...points, [event.latlng.lat, event.latlng.lng]]);
    });
    map.current = created;
    return () => {
      created.remove();
      map.current = null;
    };
    // The map is created once (fitted to the cameras known then); markers are drawn by the effect below.
  }, []);

  useEffect(() => {
    const current = map.current;
    if (!current || !settings) return undefined;
    const tiles = L.tileLayer(settings.tile_url_template, { maxZoom: settings.max_zoom }).addTo(current);
    tiles.bringToBack();
    return () => {
      tiles.remove();
    };
  }, [settings]);

  useEffect(() => {
    const group = markers.current;
    if (!group) return;
    group.clearLayers();
    const counts = new Map<string, number>();
    for (const event of result?.events ?? []) counts.set(event.camera_id, (counts.get(event.camera_id) ?? 0) + 1);
    const searched = new Set(result?.camera_ids ?? []);
    for (const camera of cameras) {
      if (!camera.position) continue;
      const count = counts.get(camera.id) ?? 0;
      const marker = L.circleMarker([camera.position.lat, camera.position.lon], {
        radius: count > 0 ? 8 + Math.min(12, count) : 6,
        color: count > 0 ? "#c2410c" : searched.has(camera.id) ? "#1d5fbf" : "#6b7280",
        weight: 2,
        fillOpacity: count > 0 ? 0.6 : 0.2,
      });
      marker.bindTooltip(`${camera.name}: ${count} result${count === 1 ? "" : "s"}`);
      marker.addTo(group);
    }
  }, [result, cameras]);

  useEffect(() => {
    const current = map.current;
    if (!current || area.length === 0) return undefined;
    const shape = area.length >= 3 ? L.polygon(area, { color: "#c2410c", weight: 2 }) : L.polyline(area, { color: "#c2410c" });
    shape.addTo(current);
    return () => {
      shape.remove();
    };
  }, [area]);

  const bbox = () => {
    const bounds = map.current?.getBounds();
    if (!bounds) return null;
    return [bounds.getSouth(), bounds.getWest(), bounds.getNorth(), bounds.getEast()].map((n) => n.toFixed(6)).join(",");
  };

  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const query = toQuery(form, bbox());
      if (area.length >= 3) {
        query.bbox = undefined;
        query.polygon = polygonParam(area);
      }
      setResult(await searchEvents(query));
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  const field = (key: keyof Form) => ({
    value: form[key] as string,
    onChange: (event: { target: { value: string } }) => setForm({ ...form, [key]: event.target.value }),
  });

  return (
    <section className="panel search" aria-labelledby="search-title" data-testid="search">
      <h2 id="search-title">Search events</h2>
      <form
        className="search-form"
        onSubmit={(event) => {
          event.preventDefault();
          void run();
        }}
      >
        <label>
          Camera
          <select {...field("cameraId")} data-testid="search-camera">
            <option value="">Any camera</option>
            {cameras.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Site
          <select {...field("site")}>
            <option value="">Any site</option>
            {sites.map((site) => (
              <option key={site} value={site}>
                {site}
              </option>
            ))}
          </select>
        </label>
        <label>
          From
          <input type="datetime-local" {...field("start")} />
        </label>
        <label>
          Until
          <input type="datetime-local" {...field("end")} />
        </label>
        <label>
          Object class
          <input {...field("objectClass")} placeholder="car, person, …" data-testid="search-class" />
        </label>
        <label>
          Zone
          <input {...field("zone")} />
        </label>
        <label>
          Rule
          <input {...field("rule")} />
        </label>
        <label>
          Incident type
          <input {...field("incidentType")} placeholder="FIRE, INTRUSION, …" />
        </label>
        <label className="small">
          <span>
            <input
              type="checkbox"
              checked={form.inView}
              onChange={(event) => setForm({ ...form, inView: event.target.checked })}
              data-testid="search-in-view"
            />{" "}
            Only cameras in the map view
          </span>
        </label>
        <span className="small">
          <button
            type="button"
            className="logout"
            aria-pressed={drawing}
            data-testid="search-draw"
            onClick={() => {
              if (!drawing) setArea([]);
              setDrawing(!drawing);
            }}
          >
            {drawing ? "Finish area" : "Draw area"}
          </button>{" "}
          {area.length > 0 ? (
            <button type="button" className="link-button" onClick={() => setArea([])}>
              clear ({area.length} point{area.length === 1 ? "" : "s"})
            </button>
          ) : null}
        </span>
        <button type="submit" className="logout" disabled={busy} data-testid="search-submit">
          {busy ? "Searching…" : "Search"}
        </button>
      </form>
      <p className="small muted">
        Searches what the analytics recorded (object classes, zones, rules, incidents). There is no search by a
        person&apos;s appearance.
      </p>
      {error ? (
        <p className="notice" role="alert">
          {error}
        </p>
      ) : null}
      <div className="search-body">
        <div>
          {result === null ? (
            <p className="empty">Choose filters and search.</p>
          ) : result.events.length === 0 ? (
            <p className="empty">No events match.</p>
          ) : (
            <>
              <p className="small muted" data-testid="search-count">
                {result.events.length} event{result.events.length === 1 ? "" : "s"}
                {result.truncated ? " (more match: narrow the search)" : ""} from {result.camera_ids.length} camera
                {result.camera_ids.length === 1 ? "" : "s"}
              </p>
              <ul className="search-results" data-testid="search-results">
                {result.events.map((event) => (
                  <li key={event.id} className="search-result" data-testid="search-result">
                    {event.snapshot_url ? (
                      <img src={event.snapshot_url} alt="" className="thumb" loading="lazy" data-testid="search-thumb" />
                    ) : (
                      <span className="thumb" aria-hidden="true" />
                    )}
                    <span>
                      <strong>{event.label || event.kind}</strong> · {names.get(event.camera_id) ?? event.camera_id}
                      <br />
                      <span className="small muted">
                        {new Date(event.start).toLocaleString()}
                        {event.zone ? ` · zone ${event.zone}` : ""}
                        {event.rule ? ` · rule ${event.rule}` : ""}
                      </span>
                    </span>
                    {onOpenEvent ? (
                      <button type="button" className="logout" onClick={() => onOpenEvent(event)}>
                        Review
                      </button>
                    ) : null}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
        <div>
          <div ref={mapBox} className="search-map" data-testid="search-map" aria-label="Cameras with results" />
          <p className="small muted">
            {drawing
              ? "Click the map to add the corners of the area; then Finish area and Search."
              : "Orange: cameras with results (bigger: more). Draw an area, or tick 'Only cameras in the map view'."}
          </p>
        </div>
      </div>
    </section>
  );
}
