import { useCallback, useState } from "react";

import {
  type IncidentAction,
  type IncidentOut,
  type Priority,
  addIncidentNote,
  assignIncident,
  describeError,
  incidentAction,
  setIncidentPriority,
  setSopStep,
} from "../api/client";

export interface IncidentOps {
  /** Id of the incident an operation is running on, if any. */
  busyId: string | null;
  /** The last failure, readable. */
  error: string | null;
  act: (id: string, action: IncidentAction) => Promise<boolean>;
  assign: (id: string, user: string | null, team: string | null) => Promise<boolean>;
  prioritise: (id: string, priority: Priority) => Promise<boolean>;
  tick: (id: string, index: number) => Promise<boolean>;
  note: (id: string, text: string) => Promise<boolean>;
  clearError: () => void;
}

/** Runs incident operations one at a time, reporting the new head to `onUpdated`; each resolves to success. */
export function useIncidentOps(onUpdated: (incident: IncidentOut) => void, onChanged?: () => void): IncidentOps {
  const [busyId, setBusyId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const run = useCallback(
    async (id: string, operation: () => Promise<unknown>, head: boolean): Promise<boolean> => {
      setBusyId(id);
      setError(null);
      try {
        const result = await operation();
        if (head) onUpdated(result as IncidentOut);
        onChanged?.();
        return true;
      } catch (err) {
        setError(describeError(err));
        return false;
      } finally {
        setBusyId(null);
      }
    },
    [onUpdated, onChanged],
  );

  return {
    busyId,
    error,
    act: (id, action) => run(id, () => incidentAction(id, action), true),
    assign: (id, user, team) => run(id, () => assignIncident(id, user, team), true),
    prioritise: (id, priority) => run(id, () => setIncidentPriority(id, priority), true),
    tick: (id, index) => run(id, () => setSopStep(id, index), false),
    note: (id, text) => run(id, () => addIncidentNote(id, text), false),
    clearError: () => setError(null),
  };
}
