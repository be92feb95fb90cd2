import { describe, expect, it } from "vitest";

import {
  PROBE_MIME,
  chooseTransport,
  detectCaps,
  fallbackTransport,
  forcedTransport,
  liveEdgeJump,
  liveWebRtcUrl,
  liveMjpegUrl,
  liveWsUrl,
} from "./liveTransport";

const supports = (mimes: string[]) => ({ isTypeSupported: (mime: string) => mimes.includes(mime) });
class FakeSocket {}

describe("chooseTransport", () => {
  it("uses MSE when the browser plays the live H.264 type", () => {
    expect(chooseTransport(detectCaps({ MediaSource: supports([PROBE_MIME]), WebSocket: FakeSocket }))).toBe("mse");
  });
  it("falls back to MJPEG without MediaSource, without the codec or without WebSocket", () => {
    expect(chooseTransport(detectCaps({ WebSocket: FakeSocket }))).toBe("mjpeg");
    expect(chooseTransport(detectCaps({ MediaSource: supports([]), WebSocket: FakeSocket }))).toBe("mjpeg");
    expect(chooseTransport(detectCaps({ MediaSource: supports([PROBE_MIME]) }))).toBe("mjpeg");
    expect(chooseTransport(detectCaps({ MediaSource: {} as never, WebSocket: FakeSocket }))).toBe("mjpeg");
  });
  it("honours a forced MJPEG, but cannot force MSE onto a browser without it", () => {
    const caps = detectCaps({ MediaSource: supports([PROBE_MIME]), WebSocket: FakeSocket });
    expect(chooseTransport(caps, "mjpeg")).toBe("mjpeg");
    expect(chooseTransport(detectCaps({}), "mse")).toBe("mjpeg");
  });
  it("reads the forced transport from the page URL", () => {
    expect(forcedTransport("?live=mjpeg")).toBe("mjpeg");
    expect(forcedTransport("?live=webrtc")).toBe("webrtc");
    expect(forcedTransport("?live=quic")).toBeNull();
    expect(forcedTransport("")).toBeNull();
  });
});

class FakePeer {}

describe("WebRTC first", () => {
  const full = { MediaSource: supports([PROBE_MIME]), WebSocket: FakeSocket, RTCPeerConnection: FakePeer };
  it("prefers WebRTC when the browser has it and the server offers it", () => {
    expect(chooseTransport(detectCaps(full), null, true)).toBe("webrtc");
  });
  it("uses MSE when the server does not offer WebRTC or the browser lacks RTCPeerConnection", () => {
    expect(chooseTransport(detectCaps(full), null, false)).toBe("mse");
    expect(chooseTransport(detectCaps({ ...full, RTCPeerConnection: undefined }), null, true)).toBe("mse");
  });
  it("goes straight to MJPEG when neither WebRTC nor MSE works", () => {
    expect(chooseTransport(detectCaps({ WebSocket: FakeSocket }), null, true)).toBe("mjpeg");
    expect(chooseTransport(detectCaps({ RTCPeerConnection: FakePeer }), null, false)).toBe("mjpeg");
  });
  it("lets the URL force MSE or MJPEG over an offered WebRTC", () => {
    expect(chooseTransport(detectCaps(full), "mse", true)).toBe("mse");
    expect(chooseTransport(detectCaps(full), "mjpeg", true)).toBe("mjpeg");
    expect(chooseTransport(detectCaps(full), "webrtc", false)).toBe("mse");
  });
  it("falls back from WebRTC to MSE, and from MSE to MJPEG", () => {
    expect(fallbackTransport("webrtc", detectCaps(full))).toBe("mse");
    expect(fallbackTransport("webrtc", detectCaps({ RTCPeerConnection: FakePeer }))).toBe("mjpeg");
    expect(fallbackTransport("mse", detectCaps(full))).toBe("mjpeg");
    expect(fallbackTransport("mjpeg", detectCaps(full))).toBe("mjpeg");
  });
  it("builds the offer URL", () => {
    expect(liveWebRtcUrl("gate 1")).toBe("/api/cameras/gate%201/live/webrtc");
  });
});

describe("live URLs and the live edge", () => {
  it("builds same-origin URLs with the right scheme", () => {
    expect(liveWsUrl({ protocol: "https:", host: "vms:8443" }, "gate 1")).toBe("wss://vms:8443/api/cameras/gate%201/live.ws");
    expect(liveWsUrl({ protocol: "http:", host: "h" }, "c")).toBe("ws://h/api/cameras/c/live.ws");
    expect(liveMjpegUrl("a/b")).toBe("/api/cameras/a%2Fb/live.mjpeg");
  });
  it("jumps to the newest frame only when too far behind", () => {
    expect(liveEdgeJump(10, 10.5)).toBeNull();
    expect(liveEdgeJump(10, 14)).toBeCloseTo(13.9);
    expect(liveEdgeJump(10, null)).toBeNull();
  });
});
