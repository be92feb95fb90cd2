import type { CameraOut } from "../api/client";
import { areaCountText, reviewCameraIds } from "../lib/area";
import { reviewRoute } from "../lib/routes";

export interface AreaBarProps {
  /** The cameras inside the selected area, in list order. */
  inside: CameraOut[];
  /** Every camera the console knows. */
  total: number;
  /** The camera selected in the lists (opened first on the Review page). */
  selectedId: string | null;
  onClear: () => void;
}

/**
 * Above the lists while an area is selected on the map: how many cameras it holds, a link that opens the
 * Review page with them (up to four, played in sync) and a way to clear it.
 */
export function AreaBar({ inside, total, selectedId, onClear }: AreaBarProps) {
  const review = reviewCameraIds(inside, selectedId);
  return (
    <section className="area-bar" aria-label="Selected area" data-testid="area-bar">
      <strong data-testid="area-count">{areaCountText(inside.length, total)}</strong>
      <span className="muted small">Cameras, recordings and events below are only those inside it.</span>
      {review.length > 0 ? (
        <a className="area-btn" href={`#${reviewRoute(review)}`} data-testid="area-review" data-camera-ids={review.join(",")}>
          {review.length < inside.length
            ? `Review ${review.length} of these ${inside.length} cameras in sync`
            : `Review ${review.length === 1 ? "this camera" : `these ${review.length} cameras in sync`}`}
        </a>
      ) : null}
      <button type="button" className="area-btn" data-testid="area-clear" onClick={onClear}>
        Clear area
      </button>
    </section>
  );
}
