/**
 * "Footage is kept N days": the retention period from `GET /api/retention`, shown in the header.
 */
import { useEffect, useState } from "react";

import { API_ORIGIN } from "../api/client";
import type { components } from "../api/schema";

type RetentionOut = components["schemas"]["RetentionOut"];

export function RetentionNote() {
  const [retention, setRetention] = useState<RetentionOut | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    fetch(`${API_ORIGIN}/api/retention`, { credentials: "same-origin", signal: controller.signal })
      .then((response) => (response.ok ? (response.json() as Promise<RetentionOut>) : null))
      .then((body) => setRetention(body))
      .catch(() => setRetention(null));
    return () => controller.abort();
  }, []);
  if (retention === null) return null;
  const days = retention.retain_days;
  const events = retention.event_retain_days;
  const title = events > days ? `Footage overlapping an event is kept ${events} days.` : undefined;
  return (
    <span className="muted small" data-testid="retention" title={title}>
      Footage is kept {days} {days === 1 ? "day" : "days"}
    </span>
  );
}
