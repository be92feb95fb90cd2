/** Small building blocks shared by the incident queue and the incident page. */
import { type FormEvent, useState } from "react";

import type { IncidentAction, IncidentDetailOut, IncidentState, Priority } from "../api/client";
import { ACTION_LABELS, PRIORITIES, PRIORITY_LABELS, STATE_LABELS } from "../lib/incidents";

const PRIORITY_ICONS: Record<Priority, string> = { critical: "◆", high: "▲", medium: "●", low: "○" };
const STATE_ICONS: Record<IncidentState, string> = {
  new: "✱",
  acknowledged: "✓",
  in_progress: "▶",
  on_hold: "❚❚",
  resolved: "✔",
  closed: "■",
};

/** Priority as icon + text (never colour alone). */
export function PriorityBadge({ priority }: { priority: Priority }) {
  return (
    <span className={`badge prio prio-${priority}`} data-priority={priority}>
      <span aria-hidden="true">{PRIORITY_ICONS[priority]}</span> {PRIORITY_LABELS[priority]}
    </span>
  );
}

/** Workflow state as icon + text. */
export function IncidentStateBadge({ state }: { state: IncidentState }) {
  return (
    <span className={`badge istate istate-${state}`} data-testid="incident-state" data-state={state}>
      <span aria-hidden="true">{STATE_ICONS[state]}</span> {STATE_LABELS[state]}
    </span>
  );
}

export interface ActionButtonsProps {
  actions: IncidentAction[];
  busy: boolean;
  onAction: (action: IncidentAction) => void;
}

export function ActionButtons({ actions, busy, onAction }: ActionButtonsProps) {
  return (
    <span className="actions">
      {actions.map((action) => (
        <button
          key={action}
          type="button"
          className={`btn btn-${action}`}
          data-testid={`incident-action-${action}`}
          disabled={busy}
          onClick={(event) => {
            event.stopPropagation();
            onAction(action);
          }}
        >
          {ACTION_LABELS[action]}
        </button>
      ))}
    </span>
  );
}

export interface PriorityPickerProps {
  value: Priority;
  busy: boolean;
  onChange: (priority: Priority) => void;
}

export function PriorityPicker({ value, busy, onChange }: PriorityPickerProps) {
  return (
    <label className="inline-field">
      Priority{" "}
      <select
        value={value}
        disabled={busy}
        data-testid="incident-priority"
        onChange={(event) => onChange(event.target.value as Priority)}
      >
        {PRIORITIES.map((priority) => (
          <option key={priority} value={priority}>
            {PRIORITY_LABELS[priority]}
          </option>
        ))}
      </select>
    </label>
  );
}

export interface AssignFormProps {
  user: string | null;
  team: string | null;
  me: string | null;
  busy: boolean;
  onAssign: (user: string | null, team: string | null) => void;
}

export function AssignForm({ user, team, me, busy, onAssign }: AssignFormProps) {
  const [who, setWho] = useState(user ?? "");
  const [group, setGroup] = useState(team ?? "");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onAssign(who.trim() || null, group.trim() || null);
  };
  return (
    <form className="assign-form" onSubmit={submit}>
      <label>
        User <input value={who} onChange={(event) => setWho(event.target.value)} maxLength={200} />
      </label>
      <label>
        Team <input value={group} onChange={(event) => setGroup(event.target.value)} maxLength={63} />
      </label>
      <button type="submit" className="btn" disabled={busy}>
        Assign
      </button>
      {me ? (
        <button type="button" className="btn" disabled={busy} onClick={() => onAssign(me, team)}>
          Assign to me
        </button>
      ) : null}
    </form>
  );
}

export interface SopChecklistProps {
  steps: IncidentDetailOut["sop"];
  busy: boolean;
  onTick: (index: number) => void;
}

export function SopChecklist({ steps, busy, onTick }: SopChecklistProps) {
  if (steps.length === 0) return <p className="empty">No standard operating procedure for this type.</p>;
  return (
    <ol className="sop" data-testid="incident-sop">
      {steps.map((step) => (
        <li key={step.index} className={`sop-step sop-${step.state}`}>
          <label>
            <input
              type="checkbox"
              checked={step.state !== "pending"}
              disabled={busy || step.state !== "pending"}
              onChange={() => onTick(step.index)}
            />{" "}
            {step.text}
          </label>
          <span className="small muted">
            {step.state === "done" ? ` — done by ${step.actor ?? "?"}` : ""}
            {step.state === "skipped" ? ` — skipped by ${step.actor ?? "?"}: ${step.reason}` : ""}
          </span>
        </li>
      ))}
    </ol>
  );
}

export interface NoteFormProps {
  busy: boolean;
  onAdd: (text: string) => Promise<boolean>;
}

export function NoteForm({ busy, onAdd }: NoteFormProps) {
  const [text, setText] = useState("");
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!text.trim()) return;
    if (await onAdd(text.trim())) setText("");
  };
  return (
    <form className="note-form" onSubmit={(event) => void submit(event)}>
      <label className="sr-only" htmlFor="note-text">
        Note
      </label>
      <textarea
        id="note-text"
        data-testid="incident-note-text"
        rows={2}
        maxLength={5000}
        placeholder="Add a note…"
        value={text}
        onChange={(event) => setText(event.target.value)}
      />
      <button type="submit" className="btn" disabled={busy || !text.trim()} data-testid="incident-note-add">
        Add note
      </button>
    </form>
  );
}
