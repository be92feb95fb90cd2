import { useEffect, useState } from "react";

import { snapshotUrl } from "../api/client";

export interface LiveViewProps {
  cameraId: string;
  cameraName: string;
  /** Refresh period; about one picture a second is the fallback live view. */
  intervalMs?: number;
}

/**
 * A camera's live (protected) view: its newest analysed frame, refreshed about
 * once a second. The box keeps its size whatever happens, so nothing jumps.
 */
export function LiveView({ cameraId, cameraName, intervalMs = 1000 }: LiveViewProps) {
  const [tick, setTick] = useState(() => Date.now());
  const [missing, setMissing] = useState(false);

  useEffect(() => {
    setMissing(false);
    const timer = setInterval(() => setTick(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [cameraId, intervalMs]);

  return (
    <figure className="live-view" data-testid="live-view" data-camera-id={cameraId}>
      <div className="live-frame">
        <img
          src={snapshotUrl(cameraId, tick)}
          alt={`Live view of ${cameraName} (protected)`}
          className={missing ? "hidden" : ""}
          onLoad={() => setMissing(false)}
          onError={() => setMissing(true)}
        />
        {missing ? <p className="live-missing">No live picture from this camera yet.</p> : null}
      </div>
      <figcaption className="small muted">
        {cameraName} · live, protected view (refreshed every {Math.round(intervalMs / 1000)} s)
      </figcaption>
    </figure>
  );
}
