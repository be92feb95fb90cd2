/**
 * The incident queue: open incidents, most urgent and longest waiting first.
 * Keyboard: ↑/↓ (or k/j) move, Home/End jump, Enter opens, "a" acknowledges,
 * "m" assigns to me, Space shows the SOP and the note field inline.
 */
import { type KeyboardEvent, useEffect, useRef, useState } from "react";

import { type IncidentDetailOut, getIncident } from "../api/client";
import { type QueueItem, formatAge } from "../lib/incidents";
import type { IncidentOps } from "../lib/useIncidentOps";
import { ActionButtons, IncidentStateBadge, NoteForm, PriorityBadge, SopChecklist } from "./IncidentControls";

/** Rows rendered at first (the most urgent); "Show more" adds as many again. Keeps 1,000 open incidents fast. */
export const QUEUE_PAGE = 50;

export interface IncidentQueueProps {
  items: QueueItem[];
  loaded: boolean;
  fresh: string[];
  cameraNames: Map<string, string>;
  me: string | null;
  ops: IncidentOps;
  onOpen: (id: string) => void;
  onSeen: (id: string) => void;
}

function useNow(periodMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), periodMs);
    return () => clearInterval(timer);
  }, [periodMs]);
  return now;
}

/** A short beep through WebAudio (no file to fetch); silently nothing where audio is unavailable. */
function beep(): void {
  const Context = typeof window !== "undefined" ? window.AudioContext : undefined;
  if (!Context) return;
  try {
    const context = new Context();
    const oscillator = context.createOscillator();
    oscillator.frequency.value = 880;
    oscillator.connect(context.destination);
    oscillator.start();
    oscillator.stop(context.currentTime + 0.2);
    oscillator.onended = () => void context.close();
  } catch {
    // Audio blocked by the browser: the visual highlight still shows.
  }
}

function QuickPanel({ id, ops, revision }: { id: string; ops: IncidentOps; revision: number }) {
  const [detail, setDetail] = useState<IncidentDetailOut | null>(null);
  const [reload, setReload] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    getIncident(id, controller.signal).then(setDetail, () => undefined);
    return () => controller.abort();
  }, [id, revision, reload]);
  if (!detail) return <div className="quick-panel muted small">Loading the checklist…</div>;
  const busy = ops.busyId === id;
  return (
    <div className="quick-panel" data-testid="incident-quick">
      <SopChecklist
        steps={detail.sop}
        busy={busy}
        onTick={(index) => void ops.tick(id, index).then(() => setReload((n) => n + 1))}
      />
      <NoteForm
        busy={busy}
        onAdd={async (text) => {
          const ok = await ops.note(id, text);
          if (ok) setReload((n) => n + 1);
          return ok;
        }}
      />
    </div>
  );
}

export function IncidentQueue({ items, loaded, fresh, cameraNames, me, ops, onOpen, onSeen }: IncidentQueueProps) {
  const now = useNow(5000);
  const [activeId, setActiveId] = useState<string | null>(null);
  const [expandedId, setExpandedId] = useState<string | null>(null);
  const [sound, setSound] = useState(false);
  const [shown, setShown] = useState(QUEUE_PAGE);
  const visible = items.length > shown ? items.slice(0, shown) : items;
  const rows = useRef(new Map<string, HTMLLIElement>());
  const heard = useRef(fresh.length);

  useEffect(() => {
    if (sound && fresh.length > heard.current) beep();
    heard.current = fresh.length;
  }, [fresh.length, sound]);

  const active = items.find((item) => item.id === activeId) ?? items[0] ?? null;

  const focusRow = (id: string) => {
    setActiveId(id);
    rows.current.get(id)?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLOListElement>) => {
    if (!active || event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement) return;
    if (event.target instanceof HTMLSelectElement || event.altKey || event.ctrlKey || event.metaKey) return;
    const index = visible.findIndex((item) => item.id === active.id);
    const go = (to: number) => {
      const target = visible[Math.max(0, Math.min(visible.length - 1, to))];
      if (target) focusRow(target.id);
    };
    const keys: Record<string, () => void> = {
      ArrowDown: () => go(index + 1),
      j: () => go(index + 1),
      ArrowUp: () => go(index - 1),
      k: () => go(index - 1),
      Home: () => go(0),
      End: () => go(visible.length - 1),
      Enter: () => onOpen(active.id),
      a: () => {
        if (active.allowed_actions.includes("acknowledge")) void ops.act(active.id, "acknowledge");
      },
      m: () => {
        if (me) void ops.assign(active.id, me, active.assignee_team);
      },
      " ": () => setExpandedId((current) => (current === active.id ? null : active.id)),
    };
    const handler = keys[event.key];
    if (!handler || (event.key === "Enter" && event.target !== rows.current.get(active.id))) return;
    if (event.key === " " && event.target !== rows.current.get(active.id)) return;
    event.preventDefault();
    handler();
  };

  return (
    <section className="panel queue-panel" aria-labelledby="queue-title">
      <div className="panel-head">
        <h2 id="queue-title">
          Incidents <span className="count">{items.length} open</span>
        </h2>
        <label className="small">
          <input type="checkbox" checked={sound} onChange={(event) => setSound(event.target.checked)} /> Sound on new
        </label>
      </div>
      <p className="small muted keys" id="queue-keys">
        ↑/↓ move · Enter open · A acknowledge · M assign to me · Space checklist &amp; note
      </p>
      {ops.error ? (
        <p className="inline-error" role="alert" data-testid="incident-error">
          {ops.error}{" "}
          <button type="button" className="link-button" onClick={ops.clearError}>
            Dismiss
          </button>
        </p>
      ) : null}
      <ol className="list queue" data-testid="incident-queue" aria-describedby="queue-keys" onKeyDown={onKeyDown}>
        {visible.map((item) => {
          const isActive = item.id === active?.id;
          const isFresh = fresh.includes(item.id);
          const cameras = item.camera_ids.map((id) => cameraNames.get(id) ?? id).join(", ");
          const assignee = [item.assignee_user, item.assignee_team].filter(Boolean).join(" / ");
          return (
            <li
              key={item.id}
              ref={(el) => {
                if (el) rows.current.set(item.id, el);
                else rows.current.delete(item.id);
              }}
              tabIndex={isActive ? 0 : -1}
              className={`queue-item prio-${item.priority}${isActive ? " active" : ""}${isFresh ? " fresh" : ""}`}
              data-testid="incident-item"
              data-incident-id={item.id}
              data-state={item.state}
              data-priority={item.priority}
              aria-label={`${item.title}, ${item.priority} priority, ${item.state.replace("_", " ")}`}
              onFocus={() => {
                setActiveId(item.id);
                if (isFresh) onSeen(item.id);
              }}
              onClick={() => setActiveId(item.id)}
            >
              <div className="queue-main">
                <PriorityBadge priority={item.priority} />
                <IncidentStateBadge state={item.state} />
                <button
                  type="button"
                  className="link-button queue-title"
                  data-testid="incident-open"
                  onClick={() => onOpen(item.id)}
                >
                  {item.title}
                </button>
                {isFresh ? <span className="new-flag">NEW</span> : null}
              </div>
              <div className="queue-sub small">
                <span title={item.created_at}>waiting {formatAge(item.created_at, now)}</span>
                {cameras ? <span> · {cameras}</span> : null}
                <span> · {assignee ? `assigned: ${assignee}` : "unassigned"}</span>
                {item.alarm_count > 1 ? <span> · {item.alarm_count} alarms</span> : null}
              </div>
              <div className="queue-actions">
                <ActionButtons
                  actions={item.allowed_actions.filter((action) => action !== "close")}
                  busy={ops.busyId === item.id}
                  onAction={(action) => void ops.act(item.id, action)}
                />
                {me && item.assignee_user !== me ? (
                  <button
                    type="button"
                    className="btn"
                    disabled={ops.busyId === item.id}
                    onClick={() => void ops.assign(item.id, me, item.assignee_team)}
                  >
                    Assign to me
                  </button>
                ) : null}
                <button
                  type="button"
                  className="btn"
                  aria-expanded={expandedId === item.id}
                  onClick={() => setExpandedId((current) => (current === item.id ? null : item.id))}
                >
                  Checklist &amp; note
                </button>
              </div>
              {expandedId === item.id ? <QuickPanel id={item.id} ops={ops} revision={item.revision} /> : null}
            </li>
          );
        })}
      </ol>
      {items.length > visible.length ? (
        <button type="button" className="btn queue-more" data-testid="queue-more" onClick={() => setShown((n) => n + QUEUE_PAGE)}>
          Show {Math.min(QUEUE_PAGE, items.length - visible.length)} more ({items.length - visible.length} not shown)
        </button>
      ) : null}
      {items.length === 0 ? (
        <p className="empty">{loaded ? "No open incidents." : "Loading incidents…"}</p>
      ) : null}
    </section>
  );
}
