/**
 * "Select area" on the overview map: the operator drags a rectangle (its outline follows the pointer) and the
 * console is filtered to the cameras inside it. Escape cancels; "Use map view" takes what is in view (the
 * keyboard way: pan and zoom with the arrow and +/- keys first); the chip "Area: N cameras ×" clears it.
 */
import L from "leaflet";
import { useEffect, useRef, useState } from "react";

import { type MapArea, areaChipLabel, rectangleFrom } from "../lib/area";

/** A drag shorter than this (pixels, either way) is a click, not an area. */
const MIN_DRAG_PX = 8;
const OUTLINE = { color: "#f0883e", weight: 2, dashArray: "6 4", fillOpacity: 0.08, interactive: false };

export interface AreaSelectProps {
  /** The Leaflet map (null until it exists). */
  map: L.Map | null;
  area: MapArea | null;
  /** Cameras inside `area`. */
  count: number;
  onChange: (area: MapArea | null) => void;
}

function shapeOf(area: MapArea): L.Polygon {
  if (area.kind === "rectangle") {
    return L.rectangle(
      [
        [area.south, area.west],
        [area.north, area.east],
      ],
      { ...OUTLINE, className: "area-outline" },
    );
  }
  return L.polygon(
    area.points.map((p) => [p.lat, p.lon] as [number, number]),
    { ...OUTLINE, className: "area-outline" },
  );
}

function areaOfView(map: L.Map): MapArea | null {
  const bounds = map.getBounds();
  return rectangleFrom(
    { lat: bounds.getSouth(), lon: bounds.getWest() },
    { lat: bounds.getNorth(), lon: bounds.getEast() },
  );
}

/** The map's area control and the drawn area's outline. */
export function AreaSelect({ map, area, count, onChange }: AreaSelectProps) {
  const [selecting, setSelecting] = useState(false);
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;

  // The chosen area's outline.
  useEffect(() => {
    if (!map || !area) return undefined;
    const shape = shapeOf(area).addTo(map);
    shape.getElement()?.setAttribute("data-testid", "area-outline");
    return () => {
      shape.remove();
    };
  }, [map, area]);

  // While selecting: the map does not pan on drag; a drag draws the rectangle; Escape cancels.
  useEffect(() => {
    if (!map || !selecting) return undefined;
    const container = map.getContainer();
    container.classList.add("area-selecting");
    map.dragging.disable();
    map.boxZoom.disable();
    map.doubleClickZoom.disable();
    let start: { latlng: L.LatLng; point: L.Point; pointer: number } | null = null;
    let draft: L.Rectangle | null = null;

    const finish = (event: PointerEvent) => {
      if (!start || event.pointerId !== start.pointer) return;
      const end = map.mouseEventToLatLng(event);
      const moved = map.mouseEventToContainerPoint(event).subtract(start.point);
      const from = start.latlng;
      start = null;
      draft?.remove();
      draft = null;
      if (Math.abs(moved.x) < MIN_DRAG_PX || Math.abs(moved.y) < MIN_DRAG_PX) return;
      const chosen = rectangleFrom({ lat: from.lat, lon: from.lng }, { lat: end.lat, lon: end.lng });
      if (!chosen) return;
      onChangeRef.current(chosen);
      setSelecting(false);
    };
    const down = (event: PointerEvent) => {
      if (event.button !== 0 || !(event.target instanceof Element)) return;
      // The zoom buttons and the other controls on the map keep working.
      if (event.target.closest(".leaflet-control, .area-control, .floor-switcher")) return;
      event.preventDefault();
      event.stopPropagation();
      const latlng = map.mouseEventToLatLng(event);
      start = { latlng, point: map.mouseEventToContainerPoint(event), pointer: event.pointerId };
      draft?.remove();
      draft = L.rectangle(L.latLngBounds(latlng, latlng), { ...OUTLINE, className: "area-draft" }).addTo(map);
      draft.getElement()?.setAttribute("data-testid", "area-draft");
    };
    const move = (event: PointerEvent) => {
      if (!start || !draft || event.pointerId !== start.pointer) return;
      draft.setBounds(L.latLngBounds(start.latlng, map.mouseEventToLatLng(event)));
    };
    const key = (event: KeyboardEvent) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      setSelecting(false);
    };
    container.addEventListener("pointerdown", down, true);
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", finish);
    window.addEventListener("pointercancel", finish);
    document.addEventListener("keydown", key);
    return () => {
      container.removeEventListener("pointerdown", down, true);
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", finish);
      window.removeEventListener("pointercancel", finish);
      document.removeEventListener("keydown", key);
      draft?.remove();
      container.classList.remove("area-selecting");
      map.dragging.enable();
      map.boxZoom.enable();
      map.doubleClickZoom.enable();
    };
  }, [map, selecting]);

  const takeView = () => {
    if (!map) return;
    const chosen = areaOfView(map);
    if (chosen) onChange(chosen);
    setSelecting(false);
  };

  return (
    <div className="area-control" data-testid="area-control">
      <button
        type="button"
        className={`area-btn${selecting ? " active" : ""}`}
        data-testid="area-select"
        aria-pressed={selecting}
        aria-label={
          selecting
            ? "Cancel selecting an area"
            : "Select area: drag a rectangle on the map to list only the cameras inside it, their events and recordings"
        }
        disabled={!map}
        onClick={() => setSelecting(!selecting)}
      >
        {selecting ? "Cancel" : "▭ Select area"}
      </button>
      {selecting ? (
        <>
          <button type="button" className="area-btn" data-testid="area-use-view" onClick={takeView}>
            Use map view
          </button>
          <span className="area-hint" role="status" data-testid="area-hint">
            Drag a rectangle around the cameras. Esc cancels.
          </span>
        </>
      ) : null}
      {area && !selecting ? (
        <button
          type="button"
          className="area-chip"
          data-testid="area-chip"
          aria-label={`${areaChipLabel(count)} selected: clear the area and list every camera again`}
          title="Clear the area"
          onClick={() => onChange(null)}
        >
          {areaChipLabel(count)} <span aria-hidden="true">×</span>
        </button>
      ) : null}
    </div>
  );
}
