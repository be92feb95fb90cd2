import { memo } from "react";

import type { CameraOut } from "../api/client";
import { formatTime } from "../lib/format";
import { StateBadge } from "./StateBadge";

export interface CameraListProps {
  cameras: CameraOut[];
  loaded: boolean;
  selectedId: string | null;
  onSelect: (cameraId: string) => void;
  /** Said instead of the usual empty-list text (e.g. no camera inside the selected map area). */
  emptyText?: string;
}

/**
 * One camera card. Memoised: the console re-renders on every poll and socket message, and 500 cards
 * re-rendering (and formatting their times) on each of those stalls map panning.
 */
const CameraItem = memo(function CameraItem({
  camera,
  selected,
  onSelect,
}: {
  camera: CameraOut;
  selected: boolean;
  onSelect: (cameraId: string) => void;
}) {
  const { state, since, reason } = camera.status;
  return (
    <li>
      <button
        type="button"
        className={`item camera-item${selected ? " selected" : ""}`}
        data-testid="camera-item"
        data-camera-id={camera.id}
        aria-pressed={selected}
        title={`${state} since ${formatTime(since)}${reason ? ` — ${reason}` : ""}`}
        onClick={() => onSelect(camera.id)}
      >
        <span className="item-main">
          <span className="camera-name">{camera.name}</span>
          <StateBadge state={state} />
        </span>
        <span className="item-sub">
          Site: {camera.site_id}
          {state !== "streaming" && reason ? ` · ${reason}` : ""}
        </span>
      </button>
    </li>
  );
});

/** The camera cards; re-renders only when its props change (pass a stable `onSelect`). */
export const CameraList = memo(function CameraList({ cameras, loaded, selectedId, onSelect, emptyText }: CameraListProps) {
  return (
    <section className="panel" aria-labelledby="cameras-title">
      <h2 id="cameras-title">Cameras</h2>
      <ul className="list" data-testid="camera-list">
        {cameras.map((camera) => (
          <CameraItem key={camera.id} camera={camera} selected={camera.id === selectedId} onSelect={onSelect} />
        ))}
      </ul>
      {cameras.length === 0 && (
        <p className="empty">
          {emptyText && loaded
            ? emptyText
            : loaded
            ? "No cameras configured — add cameras to the configuration file and restart the server."
            : "Loading cameras…"}
        </p>
      )}
    </section>
  );
});
