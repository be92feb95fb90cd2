/** The map's floor switcher: one button per floor of the site in view (bottom floor first). */
import type { FloorPlan } from "../lib/floorPlans";

export interface FloorPlanSwitcherProps {
  floors: FloorPlan[];
  current: FloorPlan | null;
  onChoose: (floor: FloorPlan) => void;
}

export function FloorPlanSwitcher({ floors, current, onChoose }: FloorPlanSwitcherProps) {
  if (floors.length === 0) return null;
  const site = floors[0]?.site_name ?? "";
  // Top floor at the top, as in a lift.
  const ordered = [...floors].reverse();
  return (
    <div className="floor-switcher" role="group" aria-label={`Floors of ${site}`} data-testid="floor-switcher">
      {ordered.map((floor) => (
        <button
          key={floor.id}
          type="button"
          className={`btn floor-btn${floor.id === current?.id ? " active" : ""}`}
          aria-pressed={floor.id === current?.id}
          data-floor-id={floor.id}
          onClick={() => onChoose(floor)}
        >
          {floor.name}
        </button>
      ))}
    </div>
  );
}
