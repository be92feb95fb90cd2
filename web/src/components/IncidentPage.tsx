/**
 * One incident: workflow actions, assignee and priority, the SOP checklist, notes,
 * the camera's live view, the clip of the event, the place on the map and the
 * whole history. Reloads whenever the incident changes (pushed revision).
 */
import { useCallback, useEffect, useMemo, useState } from "react";

import {
  type CameraOut,
  type EventOut,
  type IncidentDetailOut,
  type MapSettingsOut,
  clipUrl,
  describeError,
  getEvent,
  getIncident,
} from "../api/client";
import { formatTime } from "../lib/format";
import { incidentPoint } from "../lib/geo";
import { ACTION_LABELS, STATE_LABELS, fromIncident } from "../lib/incidents";
import type { IncidentOps } from "../lib/useIncidentOps";
import {
  ActionButtons,
  AssignForm,
  IncidentStateBadge,
  NoteForm,
  PriorityBadge,
  PriorityPicker,
  SopChecklist,
} from "./IncidentControls";
import { LiveView } from "./LiveView";
import { MapView } from "./MapView";

const CLIP_BEFORE_MS = 10_000;
const CLIP_AFTER_MS = 20_000;

export interface IncidentPageProps {
  id: string;
  /** The revision last pushed for this incident (a change reloads the page). */
  revision: number | null;
  cameras: CameraOut[];
  settings: MapSettingsOut | null;
  me: string | null;
  ops: IncidentOps;
  onBack: () => void;
}

interface HistoryEntry {
  at: string;
  key: string;
  text: string;
}

function history(detail: IncidentDetailOut): HistoryEntry[] {
  const entries: HistoryEntry[] = [
    { at: detail.incident.created_at, key: "created", text: `Opened (${detail.incident.source})` },
    ...detail.transitions.map((t, i) => ({
      at: t.at,
      key: `t${i}`,
      text: `${ACTION_LABELS[t.action]}: ${STATE_LABELS[t.source]} → ${STATE_LABELS[t.target]} by ${t.actor}${t.reason ? ` — ${t.reason}` : ""}`,
    })),
    ...detail.notes.map((n, i) => ({ at: n.at, key: `n${i}`, text: `Note by ${n.author}: ${n.text}` })),
    ...detail.sop
      .filter((s) => s.at !== null)
      .map((s) => ({ at: s.at ?? "", key: `s${s.index}`, text: `Step ${s.index + 1} ${s.state} by ${s.actor ?? "?"}: ${s.text}` })),
    ...detail.attachments.map((a, i) => ({ at: a.at, key: `a${i}`, text: `Event ${a.event_id} attached by ${a.added_by}` })),
    ...detail.escalations.map((e, i) => ({ at: e.at, key: `e${i}`, text: `Escalated to ${e.group} (level ${e.level}): ${e.reason}` })),
  ];
  return entries.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

function EventClip({ detail }: { detail: IncidentDetailOut }) {
  const [event, setEvent] = useState<EventOut | null>(null);
  const [failed, setFailed] = useState(false);
  const eventId = detail.attachments[0]?.event_id ?? null;
  useEffect(() => {
    if (eventId === null) return undefined;
    const controller = new AbortController();
    getEvent(eventId, controller.signal).then(setEvent, () => undefined);
    return () => controller.abort();
  }, [eventId]);
  const cameraId = event?.camera_id ?? detail.incident.camera_ids[0] ?? null;
  if (cameraId === null) return <p className="empty">No camera is linked to this incident, so there is no clip.</p>;
  const start = Date.parse(event?.start ?? detail.incident.created_at);
  const end = event?.end ? Date.parse(event.end) : start;
  const src = clipUrl(cameraId, start - CLIP_BEFORE_MS, Math.max(end, start) + CLIP_AFTER_MS);
  return (
    <figure className="clip">
      {failed ? (
        <p className="empty">
          The clip is not available: no recording covers this moment yet, or your role may not export clips.
        </p>
      ) : (
        <video
          key={src}
          src={src}
          controls
          muted
          preload="metadata"
          data-testid="incident-clip"
          onError={() => setFailed(true)}
        />
      )}
      <figcaption className="small muted">
        {event ? `Event ${event.kind} (${event.label}) at ${formatTime(event.start)}` : "Around the incident's start"} ·
        protected rendition
      </figcaption>
    </figure>
  );
}

export function IncidentPage({ id, revision, cameras, settings, me, ops, onBack }: IncidentPageProps) {
  const [detail, setDetail] = useState<IncidentDetailOut | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const refresh = useCallback(() => setReload((n) => n + 1), []);

  useEffect(() => {
    const controller = new AbortController();
    getIncident(id, controller.signal).then(
      (data) => {
        setDetail(data);
        setError(null);
      },
      (err: unknown) => {
        if (!controller.signal.aborted) setError(describeError(err));
      },
    );
    return () => controller.abort();
  }, [id, revision, reload]);

  const incident = detail?.incident ?? null;
  const pins = useMemo(() => (incident ? [fromIncident(incident)] : []), [incident]);
  const focus = incident ? incidentPoint(incident, cameras) : null;

  if (!detail || !incident) {
    return (
      <section className="incident-page panel">
        <button type="button" className="btn" onClick={onBack} data-testid="incident-back">
          ← Back to the console
        </button>
        <p className={error ? "inline-error" : "empty"}>{error ?? "Loading the incident…"}</p>
      </section>
    );
  }

  const busy = ops.busyId === id;
  const after = (ok: boolean) => {
    if (ok) refresh();
  };
  const camera = cameras.find((c) => incident.camera_ids.includes(c.id)) ?? null;

  return (
    <section className="incident-page" data-testid="incident-page" data-incident-id={id} aria-labelledby="incident-title">
      <div className="incident-head panel">
        <button type="button" className="btn" onClick={onBack} data-testid="incident-back">
          ← Back
        </button>
        <h2 id="incident-title">{incident.title}</h2>
        <PriorityBadge priority={incident.priority} />
        <IncidentStateBadge state={incident.state} />
        <span className="small muted">
          {incident.type_code} · {incident.category} · opened {formatTime(incident.created_at)}
          {incident.alarm_count > 1 ? ` · ${incident.alarm_count} alarms` : ""}
        </span>
        <ActionButtons
          actions={incident.allowed_actions}
          busy={busy}
          onAction={(action) => void ops.act(id, action).then(after)}
        />
        {ops.error ? (
          <p className="inline-error" role="alert" data-testid="incident-error">
            {ops.error}
          </p>
        ) : null}
      </div>
      <div className="incident-grid">
        <div className="panel">
          <h3>Live view</h3>
          {camera ? (
            <LiveView cameraId={camera.id} cameraName={camera.name} />
          ) : (
            <p className="empty">No camera is linked to this incident.</p>
          )}
          <h3>Event clip</h3>
          <EventClip detail={detail} />
        </div>
        <div className="panel">
          <h3>Location</h3>
          {focus ? (
            <MapView cameras={cameras} incidents={pins} settings={settings} focus={focus} compact />
          ) : (
            <p className="empty">This incident has no place on the map.</p>
          )}
          <h3>Handling</h3>
          <AssignForm
            key={`${incident.assignee_user ?? ""}|${incident.assignee_team ?? ""}`}
            user={incident.assignee_user}
            team={incident.assignee_team}
            me={me}
            busy={busy}
            onAssign={(user, team) => void ops.assign(id, user, team).then(after)}
          />
          <PriorityPicker
            value={incident.priority}
            busy={busy}
            onChange={(priority) => void ops.prioritise(id, priority).then(after)}
          />
        </div>
        <div className="panel">
          <h3>Checklist</h3>
          <SopChecklist steps={detail.sop} busy={busy} onTick={(index) => void ops.tick(id, index).then(after)} />
          <h3>Notes</h3>
          <NoteForm
            busy={busy}
            onAdd={async (text) => {
              const ok = await ops.note(id, text);
              after(ok);
              return ok;
            }}
          />
          <h3>History</h3>
          <ol className="history" data-testid="incident-history">
            {history(detail).map((entry) => (
              <li key={entry.key}>
                <time dateTime={entry.at}>{formatTime(entry.at)}</time> {entry.text}
              </li>
            ))}
          </ol>
        </div>
      </div>
    </section>
  );
}
