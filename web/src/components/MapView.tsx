/**
 * The site map (Leaflet, bundled; no CDN): cameras at their positions with a
 * field-of-view cone, clustered when zoomed out; open incidents as pins that
 * pulse by priority; indoor floor plans (image overlays) with a floor switcher
 * when a site with floors is in view. With many cameras in view, labels and
 * cones are left out and cones are drawn on one canvas (500 markers pan at
 * full frame rate). Tiles come from `server.tile_url_template` (by default the
 * server's own offline grid); when they cannot be loaded a notice says so and
 * the markers keep working. On the overview, "Select area" filters the console to the cameras inside a
 * dragged rectangle (see AreaSelect).
 */
import L from "leaflet";
import "leaflet.markercluster";
import "leaflet/dist/leaflet.css";
import "leaflet.markercluster/dist/MarkerCluster.css";
import { useEffect, useMemo, useRef, useState } from "react";

import type { CameraOut, MapSettingsOut } from "../api/client";
import { listFloorPlans } from "../api/floorplans";
import type { MapArea } from "../lib/area";
import { type FloorPlan, currentFloor, floorsOf, showsOnFloor, siteInView } from "../lib/floorPlans";
import { type LatLon, fovCone, incidentPoint } from "../lib/geo";
import { PRIORITY_LABELS, PRIORITY_RANK, type QueueItem, STATE_LABELS } from "../lib/incidents";
import { AreaSelect } from "./AreaSelect";
import { FloorPlanSwitcher } from "./FloorPlanSwitcher";

const CAMERA_SYMBOLS: Record<CameraOut["status"]["state"], string> = {
  connecting: "◌",
  streaming: "●",
  stalled: "▲",
  offline: "■",
};
const FIT_MAX_ZOOM = 18;
/** From this zoom on, markers 22 px apart no longer overlap: clusters only gather markers that touch. */
const DETAIL_ZOOM = 18;
/** Camera labels show from this zoom on, and only while at most LABEL_LIMIT single markers are in view. */
const LABEL_ZOOM = 17;
const LABEL_LIMIT = 40;
/** Cones show only while at most CONE_LIMIT single markers are in view. */
const CONE_LIMIT = 150;
/** With more cameras than this the cones are drawn on one canvas instead of one SVG path each. */
const CANVAS_ABOVE = 50;
const CONE_COLOURS: Record<CameraOut["status"]["state"], string> = {
  connecting: "#6ea8fe",
  streaming: "#6ea8fe",
  stalled: "#9aa6b5",
  offline: "#9aa6b5",
};

/** Cluster radius in pixels: wide when zoomed out, only touching markers from DETAIL_ZOOM on. */
function clusterRadius(zoom: number): number {
  return zoom >= DETAIL_ZOOM ? 24 : 80;
}

export interface MapViewProps {
  cameras: CameraOut[];
  incidents: QueueItem[];
  settings: MapSettingsOut | null;
  selectedCameraId?: string | null;
  /** Centre on this point (the incident page); otherwise fit all placed cameras once. */
  focus?: LatLon | null;
  onCameraClick?: (cameraId: string) => void;
  onIncidentClick?: (incidentId: string) => void;
  /** Smaller map without the camera markers' labels (the incident page). */
  compact?: boolean;
  /** The area the console is filtered to (shown with the "Select area" control when `onAreaChange` is given). */
  area?: MapArea | null;
  /** Cameras inside `area` (the chip's count). */
  areaCameraCount?: number;
  onAreaChange?: (area: MapArea | null) => void;
}

function cameraSignature(camera: CameraOut): string {
  const p = camera.position;
  const where = p ? `${p.lat},${p.lon},${p.heading_deg},${p.fov_deg},${p.floor}` : "-";
  return `${camera.id}|${camera.name}|${camera.status.state}|${where}`;
}

function incidentSignature(incident: QueueItem): string {
  const where = `${incident.lat},${incident.lon},${incident.camera_ids.join(",")}`;
  return `${incident.id}|${incident.priority}|${incident.state}|${incident.title}|${where}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function cameraIcon(camera: CameraOut, selected: boolean, compact: boolean): L.DivIcon {
  const state = camera.status.state;
  const label = compact ? "" : `<span class="cam-label">${escapeHtml(camera.name)}</span>`;
  return L.divIcon({
    className: `cam-marker cam-${state}${selected ? " selected" : ""}`,
    iconSize: [22, 22],
    iconAnchor: [11, 11],
    html:
      `<span class="cam-symbol" data-testid="map-camera" data-camera-id="${escapeHtml(camera.id)}" ` +
      `data-state="${state}">${CAMERA_SYMBOLS[state]}</span>${label}`,
  });
}

function incidentIcon(incident: QueueItem, count = 1): L.DivIcon {
  return L.divIcon({
    className: `incident-pin prio-${incident.priority} istate-${incident.state}`,
    iconSize: [28, 28],
    iconAnchor: [14, 28],
    html:
      `<span class="pin-body" data-testid="map-incident" data-incident-id="${escapeHtml(incident.id)}" ` +
      `data-priority="${incident.priority}" data-count="${count}"><span>!</span></span>` +
      (count > 1 ? `<span class="pin-count" aria-hidden="true">${count}</span>` : ""),
  });
}

function clusterIcon(cluster: L.MarkerCluster): L.DivIcon {
  const count = cluster.getChildCount();
  return L.divIcon({
    className: "cam-cluster",
    iconSize: [34, 34],
    html: `<span aria-label="${count} cameras">${count}</span>`,
  });
}

function incidentClusterIcon(pins: Map<L.Marker, Pin>, cluster: L.MarkerCluster): L.DivIcon {
  let best: Pin | null = null;
  let count = 0;
  for (const marker of cluster.getAllChildMarkers()) {
    const pin = pins.get(marker);
    if (!pin) continue;
    count += pin.count;
    if (!best || PRIORITY_RANK[pin.incident.priority] < PRIORITY_RANK[best.incident.priority]) best = pin;
  }
  return best ? incidentIcon(best.incident, count) : clusterIcon(cluster);
}

interface Pin {
  incident: QueueItem;
  count: number;
}

interface Layers {
  map: L.Map;
  cameras: L.MarkerClusterGroup;
  cones: L.LayerGroup;
  coneCanvas: L.Canvas;
  incidents: L.MarkerClusterGroup;
  pins: Map<L.Marker, Pin>;
  tiles: L.TileLayer | null;
  markers: L.Marker[];
  coneByCamera: Map<L.Marker, L.Polygon>;
  fitted: boolean;
}

/**
 * Shows labels and cones only while few single markers are in view (cones only of markers shown on
 * their own, not inside a cluster): hundreds of labels and cones are unreadable and slow to pan.
 */
function syncDetail(layers: Layers): void {
  const bounds = layers.map.getBounds().pad(0.2);
  let single = 0;
  for (const marker of layers.markers) {
    if (layers.cameras.getVisibleParent(marker) === marker && bounds.contains(marker.getLatLng())) single += 1;
  }
  const labels = layers.map.getZoom() >= LABEL_ZOOM && single <= LABEL_LIMIT;
  layers.map.getContainer().classList.toggle("cam-labels-off", !labels);
  const cones = single <= CONE_LIMIT;
  for (const [marker, cone] of layers.coneByCamera) {
    const visible = cones && layers.cameras.getVisibleParent(marker) === marker;
    if (visible && !layers.cones.hasLayer(cone)) layers.cones.addLayer(cone);
    if (!visible && layers.cones.hasLayer(cone)) layers.cones.removeLayer(cone);
  }
}

function viewBox(map: L.Map): { south: number; west: number; north: number; east: number } {
  const b = map.getBounds();
  return { south: b.getSouth(), west: b.getWest(), north: b.getNorth(), east: b.getEast() };
}

export function MapView({
  cameras,
  incidents,
  settings,
  selectedCameraId = null,
  focus = null,
  onCameraClick,
  onIncidentClick,
  compact = false,
  area = null,
  areaCameraCount = 0,
  onAreaChange,
}: MapViewProps) {
  const container = useRef<HTMLDivElement | null>(null);
  const layers = useRef<Layers | null>(null);
  const handlers = useRef({ onCameraClick, onIncidentClick });
  handlers.current = { onCameraClick, onIncidentClick };
  const focusRef = useRef<LatLon | null>(focus);
  focusRef.current = focus;
  const [tileProblem, setTileProblem] = useState(false);
  const [failed, setFailed] = useState<string | null>(null);
  const [leaflet, setLeaflet] = useState<L.Map | null>(null);
  const [plans, setPlans] = useState<FloorPlan[]>([]);
  const [siteShown, setSiteShown] = useState<string | null>(null);
  const [chosenFloors, setChosenFloors] = useState<Record<string, string>>({});
  const plansRef = useRef<FloorPlan[]>(plans);
  plansRef.current = plans;
  const floors = useMemo(() => floorsOf(plans, siteShown), [plans, siteShown]);
  const floor = siteShown === null ? null : currentFloor(floors, chosenFloors[siteShown]);
  const floorRef = useRef<FloorPlan | null>(floor);
  floorRef.current = floor;

  // Create the map once.
  useEffect(() => {
    if (!container.current) return undefined;
    let map: L.Map;
    try {
      map = L.map(container.current, { zoomControl: true, worldCopyJump: false, minZoom: 2, maxZoom: 20 });
    } catch (err) {
      setFailed(err instanceof Error ? err.message : String(err));
      return undefined;
    }
    const initial = focusRef.current;
    if (initial) map.setView(initial, FIT_MAX_ZOOM);
    else map.setView([20, 0], 2);
    map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
    L.control.scale({ imperial: false }).addTo(map);
    const cameraGroup = L.markerClusterGroup({
      showCoverageOnHover: false,
      maxClusterRadius: clusterRadius,
      spiderfyOnMaxZoom: true,
      iconCreateFunction: clusterIcon,
    });
    const pins = new Map<L.Marker, Pin>();
    const state: Layers = {
      map,
      cameras: cameraGroup,
      cones: L.layerGroup(),
      coneCanvas: L.canvas({ padding: 0.2 }),
      incidents: L.markerClusterGroup({
        showCoverageOnHover: false,
        maxClusterRadius: clusterRadius,
        disableClusteringAtZoom: DETAIL_ZOOM,
        zoomToBoundsOnClick: true,
        iconCreateFunction: (cluster) => incidentClusterIcon(pins, cluster),
      }),
      pins,
      tiles: null,
      markers: [],
      coneByCamera: new Map(),
      fitted: false,
    };
    state.cones.addTo(map);
    cameraGroup.addTo(map);
    state.incidents.addTo(map);
    const sync = () => {
      syncDetail(state);
      setSiteShown(siteInView(plansRef.current, viewBox(map)));
    };
    map.on("zoomend moveend", sync);
    cameraGroup.on("animationend", sync);
    layers.current = state;
    setLeaflet(map);
    // Keep Leaflet's idea of the container size right when the layout changes (and stay on the focus).
    const observer =
      typeof ResizeObserver === "undefined"
        ? null
        : new ResizeObserver(() => {
            map.invalidateSize({ animate: false });
            const point = focusRef.current;
            if (point) map.setView(point, map.getZoom(), { animate: false });
          });
    observer?.observe(container.current);
    return () => {
      observer?.disconnect();
      layers.current = null;
      setLeaflet(null);
      map.remove();
    };
  }, []);

  // Tiles: (re)created when the configured template is known or changes.
  const template = settings?.tile_url_template ?? null;
  const attribution = settings?.attribution ?? "";
  const maxZoom = settings?.max_zoom ?? 19;
  useEffect(() => {
    const state = layers.current;
    if (!state || template === null) return undefined;
    const tiles = L.tileLayer(template, { attribution: escapeHtml(attribution), maxZoom, maxNativeZoom: maxZoom });
    let failures = 0;
    tiles.on("tileerror", () => {
      failures += 1;
      setTileProblem(true);
    });
    tiles.on("tileload", () => {
      if (failures === 0) setTileProblem(false);
      failures = Math.max(0, failures - 1);
    });
    tiles.addTo(state.map);
    tiles.bringToBack();
    state.tiles = tiles;
    return () => {
      tiles.remove();
      state.tiles = null;
    };
  }, [template, attribution, maxZoom]);

  // The polls hand over new arrays every few seconds: rebuild the layers only when what they draw changed
  // (100 cameras and 1,000 incidents otherwise re-create every marker on every poll).
  const latest = useRef({ cameras, incidents });
  latest.current = { cameras, incidents };
  const cameraKey = useMemo(() => cameras.map(cameraSignature).join(";"), [cameras]);
  const incidentKey = useMemo(() => incidents.map(incidentSignature).join(";"), [incidents]);

  // Cameras and their cones.
  useEffect(() => {
    const state = layers.current;
    if (!state) return;
    const { cameras } = latest.current;
    state.cameras.clearLayers();
    state.cones.clearLayers();
    state.coneByCamera.clear();
    state.markers = [];
    const points: L.LatLngExpression[] = [];
    const markers: L.Marker[] = [];
    const onCanvas = cameras.length > CANVAS_ABOVE;
    for (const camera of cameras) {
      const position = camera.position;
      if (!position) continue;
      points.push([position.lat, position.lon]);
      if (!showsOnFloor(camera, floorRef.current)) continue;
      const marker = L.marker([position.lat, position.lon], {
        icon: cameraIcon(camera, camera.id === selectedCameraId, compact),
        title: `Camera ${camera.name}: ${camera.status.state}`,
        alt: `Camera ${camera.name}`,
        keyboard: true,
      });
      marker.on("click", () => handlers.current.onCameraClick?.(camera.id));
      markers.push(marker);
      const cone = fovCone(position);
      if (cone) {
        const colour = CONE_COLOURS[camera.status.state];
        const style = onCanvas
          ? { renderer: state.coneCanvas, color: colour, weight: 1, opacity: 0.7, fillOpacity: 0.22 }
          : { className: `cone cone-${camera.status.state}` };
        state.coneByCamera.set(marker, L.polygon(cone, { ...style, interactive: false }));
      }
    }
    state.cameras.addLayers(markers);
    state.markers = markers;
    syncDetail(state);
    if (!state.fitted && !focus && points.length > 0) {
      state.fitted = true;
      state.map.fitBounds(L.latLngBounds(points), { maxZoom: FIT_MAX_ZOOM, padding: [40, 40], animate: false });
    }
  }, [cameraKey, selectedCameraId, compact, focus, floor?.site_id, floor?.id]);

  // Incident pins.
  useEffect(() => {
    const state = layers.current;
    if (!state) return;
    const { cameras, incidents } = latest.current;
    state.incidents.clearLayers();
    state.pins.clear();
    // One pin per place (the most urgent incident there, the queue's order), with how many more are
    // there: 1,000 open incidents at 100 cameras draw 100 pins, not 1,000 pulsing ones.
    const byPlace = new Map<string, { incident: QueueItem; point: L.LatLngExpression; count: number }>();
    for (const incident of incidents) {
      const point = incidentPoint(incident, cameras);
      if (!point) continue;
      const key = String(point);
      const found = byPlace.get(key);
      if (found) found.count += 1;
      else byPlace.set(key, { incident, point, count: 1 });
    }
    const pinMarkers: L.Marker[] = [];
    for (const { incident, point, count } of byPlace.values()) {
      const more = count > 1 ? ` (+${count - 1} more here)` : "";
      const marker = L.marker(point, {
        icon: incidentIcon(incident, count),
        title: `${PRIORITY_LABELS[incident.priority]} · ${STATE_LABELS[incident.state]}: ${incident.title}${more}`,
        alt: `Incident ${incident.title}`,
        keyboard: true,
        zIndexOffset: 1000,
      });
      marker.on("click", () => handlers.current.onIncidentClick?.(incident.id));
      state.pins.set(marker, { incident, count });
      pinMarkers.push(marker);
    }
    state.incidents.addLayers(pinMarkers);
  }, [incidentKey, cameraKey]);

  // Floor plans of the sites this user sees (not on the compact incident map).
  useEffect(() => {
    if (compact) return undefined;
    const abort = new AbortController();
    listFloorPlans(abort.signal)
      .then((found) => {
        setPlans(found);
        const state = layers.current;
        if (state) setSiteShown(siteInView(found, viewBox(state.map)));
      })
      .catch(() => setPlans([])); // no plans shown; cameras and incidents keep working
    return () => abort.abort();
  }, [compact]);

  // The shown floor's plan under the markers.
  const planUrl = floor?.image_url ?? null;
  const planBounds = floor ? `${floor.south},${floor.west},${floor.north},${floor.east}` : null;
  useEffect(() => {
    const state = layers.current;
    if (!state || !floor || planUrl === null) return undefined;
    const overlay = L.imageOverlay(planUrl, [[floor.south, floor.west], [floor.north, floor.east]], {
      className: "floor-plan",
      alt: `Floor plan: ${floor.site_name}, ${floor.name}`,
      opacity: 0.9,
    });
    overlay.addTo(state.map);
    overlay.getElement()?.setAttribute("data-testid", "floor-plan");
    overlay.getElement()?.setAttribute("data-floor-id", floor.id);
    return () => {
      overlay.remove();
    };
    // The overlay follows the plan's url and corners (planBounds), not the floor object identity.
  }, [planUrl, planBounds]);

  // Centre on the focus point (the incident page).
  const focusLat = focus?.[0] ?? null;
  const focusLon = focus?.[1] ?? null;
  useEffect(() => {
    const state = layers.current;
    if (!state || focusLat === null || focusLon === null) return;
    state.fitted = true;
    state.map.setView([focusLat, focusLon], FIT_MAX_ZOOM, { animate: false });
  }, [focusLat, focusLon]);

  return (
    <div className={`map-wrap${compact ? " compact" : ""}`}>
      <div ref={container} className="map" data-testid="map" role="region" aria-label="Site map" />
      {onAreaChange ? (
        <AreaSelect map={leaflet} area={area} count={areaCameraCount} onChange={onAreaChange} />
      ) : null}
      <FloorPlanSwitcher
        floors={floors}
        current={floor}
        onChoose={(chosen) => setChosenFloors((before) => ({ ...before, [chosen.site_id]: chosen.id }))}
      />
      {tileProblem && template !== null ? (
        <p className="map-notice" role="status" data-testid="map-tile-notice">
          Map background unavailable: the tile server ({template}) does not answer. Cameras and incidents are still
          shown.
        </p>
      ) : null}
      {failed ? (
        <p className="map-notice" role="status">
          The map could not start ({failed}); the lists keep working.
        </p>
      ) : null}
    </div>
  );
}
