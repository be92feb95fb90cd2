import type { EventOut } from "../api/client";
import { formatEventDuration, formatTime } from "../lib/format";

export interface EventListProps {
  events: EventOut[];
  cameraNames: Map<string, string>;
  selectedId: string | null;
  onSelect: (event: EventOut) => void;
  /** Said instead of the usual empty-list text (e.g. while filtered to a map area). */
  emptyText?: string;
}

const KIND_LABELS: Record<EventOut["kind"], string> = {
  motion: "Motion",
  object: "Object",
  zone: "Zone",
  tamper: "Camera tampered",
};

/** Live event list, newest on top. */
export function EventList({ events, cameraNames, selectedId, onSelect, emptyText }: EventListProps) {
  return (
    <section className="panel" aria-labelledby="events-title">
      <h2 id="events-title">Live events</h2>
      <ul className="list" data-testid="event-list" aria-live="polite">
        {events.map((event) => {
          const ongoing = event.end === null;
          const label = event.label && event.label !== event.kind ? event.label : "";
          return (
            <li key={event.id}>
              <button
                type="button"
                className={`item event-item${event.id === selectedId ? " selected" : ""}`}
                data-testid="event-item"
                data-event-id={event.id}
                data-camera-id={event.camera_id}
                title="Play the recording of this event"
                onClick={() => onSelect(event)}
              >
                <span className="item-main">
                  <span className="camera-name">{cameraNames.get(event.camera_id) ?? event.camera_id}</span>
                  <span className={`kind kind-${event.kind}`}>{KIND_LABELS[event.kind]}</span>
                </span>
                <span className="item-sub">
                  <time dateTime={event.start}>{formatTime(event.start)}</time>
                  {" · "}
                  <span className={ongoing ? "ongoing" : undefined}>{formatEventDuration(event.start, event.end)}</span>
                  {label ? ` · ${label}` : ""}
                </span>
              </button>
            </li>
          );
        })}
      </ul>
      {events.length === 0 && (
        <p className="empty">{emptyText ?? "No events yet — events appear here live when a camera sees motion."}</p>
      )}
    </section>
  );
}
