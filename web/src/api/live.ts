/**
 * The WebRTC live view's signalling: whether the server offers WebRTC (and its ICE servers), and posting an
 * SDP offer for a camera's protected live view. ICE is not trickled: the offer carries every candidate.
 */
import type { components } from "./schema";
import { ApiError, csrfHeaders, toApiError } from "./client";
import { liveWebRtcUrl } from "../lib/liveTransport";

export type WebRtcInfo = components["schemas"]["WebRtcInfoOut"];
export type SdpAnswer = components["schemas"]["SdpOut"];

/** The server's WebRTC settings, or null when it does not offer WebRTC (404) or cannot be asked. */
export async function getWebRtcInfo(signal?: AbortSignal): Promise<WebRtcInfo | null> {
  try {
    const response = await fetch("/api/live/webrtc", { credentials: "same-origin", signal });
    if (!response.ok) return null;
    return (await response.json()) as WebRtcInfo;
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    return null;
  }
}

/** Sends the browser's offer for `cameraId`'s live view; returns the server's answer. */
export async function postWebRtcOffer(cameraId: string, sdp: string, signal?: AbortSignal): Promise<SdpAnswer> {
  const response = await fetch(liveWebRtcUrl(cameraId), {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", ...csrfHeaders() },
    body: JSON.stringify({ type: "offer", sdp }),
    signal,
  });
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) throw toApiError(body, response);
  if (typeof body !== "object" || body === null || !("sdp" in body)) {
    throw new ApiError("The server's WebRTC answer has no SDP", response.status, "bad_answer");
  }
  return body as SdpAnswer;
}
