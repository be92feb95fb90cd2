/**
 * Outbound webhook deliveries for administrators (`integrations.manage`): the dead-letter list and retry.
 */
import { API_ORIGIN, csrfHeaders, toApiError } from "./client";
import type { components } from "./schema";

export type WebhookDeliveryOut = components["schemas"]["WebhookDeliveryOut"];
export type WebhookDeliveryPageOut = components["schemas"]["WebhookDeliveryPageOut"];

/** Permission that shows the dead-letter panel. */
export const MANAGE_INTEGRATIONS = "integrations.manage";

async function parse<T>(response: Response): Promise<T> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text for the error message
  }
  if (!response.ok) throw toApiError(body, response);
  return body as T;
}

/** The newest dead letters (deliveries that failed every attempt). */
export async function listDeadLetters(signal?: AbortSignal): Promise<WebhookDeliveryPageOut> {
  const response = await fetch(`${API_ORIGIN}/api/webhooks/deliveries?state=dead&limit=100`, {
    credentials: "same-origin",
    signal,
  });
  return parse<WebhookDeliveryPageOut>(response);
}

/** Send a dead letter again; returns it as it is now (pending). */
export async function retryDelivery(id: number): Promise<WebhookDeliveryOut> {
  const response = await fetch(`${API_ORIGIN}/api/webhooks/deliveries/${id}/retry`, {
    method: "POST",
    credentials: "same-origin",
    headers: csrfHeaders(),
  });
  return parse<WebhookDeliveryOut>(response);
}
