/**
 * Break-glass alerts for approvers: someone opened live originals without approval. The server sends these
 * only to users who may approve unmask requests; each stays until dismissed.
 */
import type { BreakGlassMessage } from "../api/ws";

export interface BreakGlassAlertsProps {
  alerts: BreakGlassMessage[];
  onDismiss: (grantId: string) => void;
}

function time(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function BreakGlassAlerts({ alerts, onDismiss }: BreakGlassAlertsProps) {
  if (alerts.length === 0) return null;
  return (
    <section className="error-banner" role="alert" aria-label="Break glass" data-testid="break-glass-alerts">
      {alerts.map((alert) => (
        <p key={alert.grant_id} data-testid="break-glass-alert">
          <strong>Break glass:</strong> {alert.requester} opened live originals of {alert.camera_ids.join(", ")} at{" "}
          {time(alert.at)} until {time(alert.expires_at)}. Reason: {alert.reason}{" "}
          <button type="button" className="link-button" onClick={() => onDismiss(alert.grant_id)}>
            Dismiss
          </button>
        </p>
      ))}
    </section>
  );
}
