import { useCallback, useMemo, useState } from "react";

import type { CameraOut, EventOut } from "../api/client";
import { searchEvents } from "../api/review";
import { type MapArea, areaEventQuery, areaKey, camerasInArea, eventsInArea } from "./area";
import { MAX_EVENTS } from "./state";
import { usePoll } from "./usePoll";

/**
 * The events of the cameras in a selected map area come from the search API, which is rate limited (30 a
 * minute per address and per session by default, shared with the Search page and exports): fetched when the
 * area is chosen and then once a minute; the live socket's events fill in between.
 */
const AREA_EVENT_POLL_MS = 60_000;
/** Where a failed search of the area's events is reported (the console's error banner). */
export const AREA_ERROR_SOURCE = "Events in the area";

/** Events the search API found for the cameras of one area (`key`: the area's `areaKey`). */
interface AreaEvents {
  key: string;
  events: EventOut[];
}

export interface AreaFilter {
  area: MapArea | null;
  setArea: (area: MapArea | null) => void;
  /** The cameras inside the area (every camera while none is set), in list order. */
  cameras: CameraOut[];
  /** Ids of `cameras`. */
  ids: Set<string>;
  /** The newest events of `cameras`, newest first. */
  events: EventOut[];
}

/**
 * The overview's map area and what it leaves in the lists: with an area set, only the cameras placed inside
 * it and their events (the search API's answer merged with the live ones in `allEvents`).
 */
export function useAreaFilter(
  allCameras: CameraOut[],
  allEvents: EventOut[],
  onError: (source: string, err: unknown | null) => void,
): AreaFilter {
  const [area, setAreaState] = useState<MapArea | null>(null);
  const [found, setFound] = useState<AreaEvents>({ key: "", events: [] });
  const key = area ? areaKey(area) : null;
  const cameras = useMemo(() => (area ? camerasInArea(allCameras, area) : allCameras), [allCameras, area]);
  const ids = useMemo(() => new Set(cameras.map((c) => c.id)), [cameras]);

  usePoll(
    key === null ? null : `area-events:${key}`,
    AREA_EVENT_POLL_MS,
    async (signal): Promise<EventOut[]> =>
      area ? (await searchEvents(areaEventQuery(area, MAX_EVENTS), signal)).events : [],
    (events) => setFound({ key: key ?? "", events }),
    (err) => onError(AREA_ERROR_SOURCE, err),
  );

  const setArea = useCallback(
    (next: MapArea | null) => {
      setAreaState(next);
      setFound({ key: "", events: [] });
      onError(AREA_ERROR_SOURCE, null);
    },
    [onError],
  );

  const events = useMemo(() => {
    if (key === null) return allEvents;
    return eventsInArea(found.key === key ? found.events : [], allEvents, ids);
  }, [allEvents, found, key, ids]);

  return { area, setArea, cameras, ids, events };
}
