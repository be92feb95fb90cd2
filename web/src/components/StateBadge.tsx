import type { CameraState } from "../api/client";

const LABELS: Record<CameraState, string> = {
  connecting: "Connecting",
  streaming: "Streaming",
  stalled: "Stalled",
  offline: "Offline",
};

const ICONS: Record<CameraState, string> = {
  connecting: "◌",
  streaming: "●",
  stalled: "▲",
  offline: "■",
};

/** Camera state as a coloured badge with an icon and a text label (never colour alone). */
export function StateBadge({ state }: { state: CameraState }) {
  return (
    <span className={`badge badge-${state}`} data-state={state}>
      <span aria-hidden="true">{ICONS[state]}</span> {LABELS[state]}
    </span>
  );
}
