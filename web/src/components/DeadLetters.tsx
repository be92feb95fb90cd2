import { useCallback, useEffect, useState } from "react";

import { describeError } from "../api/client";
import { type WebhookDeliveryOut, listDeadLetters, retryDelivery } from "../api/webhooks";

/** Admin panel: webhook deliveries that failed every attempt, each with a retry button. */
export function DeadLetters() {
  const [items, setItems] = useState<WebhookDeliveryOut[]>([]);
  const [total, setTotal] = useState(0);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<number | null>(null);

  const load = useCallback(async (signal?: AbortSignal) => {
    try {
      const page = await listDeadLetters(signal);
      setItems(page.items);
      setTotal(page.total);
      setError(null);
    } catch (err) {
      if (!signal?.aborted) setError(describeError(err));
    } finally {
      if (!signal?.aborted) setLoaded(true);
    }
  }, []);

  useEffect(() => {
    const controller = new AbortController();
    void load(controller.signal);
    return () => controller.abort();
  }, [load]);

  const retry = async (id: number) => {
    setBusy(id);
    try {
      await retryDelivery(id);
      setItems((current) => current.filter((item) => item.id !== id));
      setTotal((current) => Math.max(0, current - 1));
      setError(null);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(null);
    }
  };

  return (
    <section className="panel dead-letters" aria-labelledby="dead-letters-title">
      <h2 id="dead-letters-title">Webhook dead letters</h2>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {!loaded && <p>Loading…</p>}
      {loaded && !error && items.length === 0 && <p>No dead letters: every webhook delivery went through.</p>}
      {items.length > 0 && (
        <>
          <p>
            {total} deliver{total === 1 ? "y" : "ies"} failed every attempt.
          </p>
          <ul>
            {items.map((item) => (
              <li key={item.id} data-testid="dead-letter">
                <span>
                  <strong>{item.webhook}</strong> · {item.event} · {item.subject_id} · {item.attempts} attempts ·{" "}
                  {item.last_error || "no answer"}
                </span>{" "}
                <button type="button" disabled={busy === item.id} onClick={() => void retry(item.id)}>
                  {busy === item.id ? "Retrying…" : "Retry"}
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
