/**
 * Which transport a live tile uses: WebRTC when the browser has `RTCPeerConnection` and the server offers
 * it (lowest latency), else fMP4 fragments over a WebSocket into Media Source Extensions when the browser
 * can play them, otherwise MJPEG (`multipart/x-mixed-replace` in an `<img>`), which every browser shows.
 * A tile whose transport fails steps down to the next one (`fallbackTransport`).
 */
export type LiveTransport = "webrtc" | "mse" | "mjpeg";

/** What the browser can do, as far as the choice is concerned. */
export interface MediaCaps {
  mediaSource: boolean;
  webSocket: boolean;
  isTypeSupported: (mime: string) => boolean;
  /** `RTCPeerConnection` exists. */
  webRtc: boolean;
}

/** A WebRTC view that is not playing this long after it started falls back to the next transport. */
export const WEBRTC_CONNECT_MS = 5000;

/** The H.264 constrained-baseline type the server's live encoder produces. */
export const PROBE_MIME = 'video/mp4; codecs="avc1.42C01E"';

/** The capabilities of `win` (a window, or anything shaped like one in tests). */
export function detectCaps(win: {
  MediaSource?: { isTypeSupported?: (mime: string) => boolean };
  WebSocket?: unknown;
  RTCPeerConnection?: unknown;
}): MediaCaps {
  const ms = win.MediaSource;
  const probe = ms && typeof ms.isTypeSupported === "function" ? ms.isTypeSupported.bind(ms) : null;
  return {
    mediaSource: probe !== null,
    webSocket: typeof win.WebSocket === "function",
    isTypeSupported: (mime) => (probe ? probe(mime) : false),
    webRtc: typeof win.RTCPeerConnection === "function",
  };
}

function mseWorks(caps: MediaCaps): boolean {
  return caps.mediaSource && caps.webSocket && caps.isTypeSupported(PROBE_MIME);
}

/**
 * WebRTC when the browser has it and the server offers it (`webRtcOffered`), else MSE when it can play the
 * live stream, else MJPEG. `forced` (from the URL, for tests) wins when the browser can do it.
 */
export function chooseTransport(caps: MediaCaps, forced: LiveTransport | null = null, webRtcOffered = false): LiveTransport {
  const webRtc = caps.webRtc && webRtcOffered;
  if (forced === "mjpeg") return "mjpeg";
  if (forced === "mse") return mseWorks(caps) ? "mse" : "mjpeg";
  if (webRtc) return "webrtc";
  return mseWorks(caps) ? "mse" : "mjpeg";
}

/** The transport to try after `failed` did not work: WebRTC → MSE (when playable) → MJPEG. */
export function fallbackTransport(failed: LiveTransport, caps: MediaCaps): LiveTransport {
  if (failed === "webrtc" && mseWorks(caps)) return "mse";
  return "mjpeg";
}

/** The `live=` parameter of the page URL (`?live=mjpeg` forces the fallback), or null. */
export function forcedTransport(search: string): LiveTransport | null {
  const value = new URLSearchParams(search).get("live");
  return value === "webrtc" || value === "mse" || value === "mjpeg" ? value : null;
}

/** The URL a camera's WebRTC offer is posted to. */
export function liveWebRtcUrl(cameraId: string): string {
  return `/api/cameras/${encodeURIComponent(cameraId)}/live/webrtc`;
}

/** The WebSocket URL of a camera's live fMP4 stream, on the page's own origin. */
export function liveWsUrl(location: { protocol: string; host: string }, cameraId: string): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/cameras/${encodeURIComponent(cameraId)}/live.ws`;
}

/** The MJPEG URL of a camera's live stream. */
export function liveMjpegUrl(cameraId: string): string {
  return `/api/cameras/${encodeURIComponent(cameraId)}/live.mjpeg`;
}

/** Seconds of buffered video kept behind the play head before it is removed. */
export const KEEP_BEHIND_S = 10;
/** Further behind the newest frame than this, the player jumps to the live edge. */
export const MAX_LATENCY_S = 1.5;

/**
 * Where a live player should be: `null` to stay, or the time to jump to when it lags the newest buffered
 * frame by more than `maxLatencyS` (a hidden tab, a stall) — a live view never plays old frames slowly.
 */
export function liveEdgeJump(currentS: number, bufferedEndS: number | null, maxLatencyS = MAX_LATENCY_S): number | null {
  if (bufferedEndS === null) return null;
  if (bufferedEndS - currentS > maxLatencyS) return Math.max(0, bufferedEndS - 0.1);
  return null;
}
