import type { CameraOut } from "../api/client";
import { formatTime } from "../lib/format";
import { StateBadge } from "./StateBadge";

export interface CameraListProps {
  cameras: CameraOut[];
  loaded: boolean;
  selectedId: string | null;
  onSelect: (cameraId: string) => void;
}

export function CameraList({ cameras, loaded, selectedId, onSelect }: CameraListProps) {
  return (
    <section className="panel" aria-labelledby="cameras-title">
      <h2 id="cameras-title">Cameras</h2>
      <ul className="list" data-testid="camera-list">
        {cameras.map((camera) => {
          const { state, since, reason } = camera.status;
          return (
            <li key={camera.id}>
              <button
                type="button"
                className={`item camera-item${camera.id === selectedId ? " selected" : ""}`}
                data-testid="camera-item"
                data-camera-id={camera.id}
                aria-pressed={camera.id === selectedId}
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
        })}
      </ul>
      {cameras.length === 0 && (
        <p className="empty">
          {loaded
            ? "No cameras configured — add cameras to the configuration file and restart the server."
            : "Loading cameras…"}
        </p>
      )}
    </section>
  );
}
