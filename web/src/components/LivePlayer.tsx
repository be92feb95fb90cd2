import { useEffect, useRef, useState } from "react";

import { describeError } from "../api/client";
import { postWebRtcOffer } from "../api/live";
import {
  KEEP_BEHIND_S,
  type LiveTransport,
  WEBRTC_CONNECT_MS,
  liveEdgeJump,
  liveMjpegUrl,
  liveWsUrl,
} from "../lib/liveTransport";

export interface LivePlayerProps {
  cameraId: string;
  cameraName: string;
  transport: LiveTransport;
  /** Time of the newest frame shown (MSE and WebRTC: MJPEG pictures carry no time the page can read). */
  onFrame?: (at: Date) => void;
  /** The WebRTC or MSE stream failed (the tile then steps down to the next transport). */
  onFailed?: (reason: string) => void;
  /** STUN/TURN servers for WebRTC (from the server's settings). */
  iceServers?: RTCIceServer[];
}

/** A live protected view: WebRTC, fMP4 over a WebSocket into Media Source Extensions, or an MJPEG `<img>`. */
export function LivePlayer(props: LivePlayerProps) {
  if (props.transport === "mjpeg") return <MjpegPlayer cameraId={props.cameraId} cameraName={props.cameraName} />;
  if (props.transport === "webrtc") return <WebRtcPlayer {...props} />;
  return <MsePlayer {...props} />;
}

/** Resolves once the browser has gathered its ICE candidates (or after `limitMs`: send what there is). */
function gatheringDone(peer: RTCPeerConnection, limitMs: number): Promise<void> {
  if (peer.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, limitMs);
    peer.addEventListener("icegatheringstatechange", () => {
      if (peer.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

/** The lowest-latency view: one receive-only WebRTC video track; falls back when it does not play in time. */
function WebRtcPlayer({ cameraId, cameraName, onFrame, onFailed, iceServers }: LivePlayerProps) {
  const videoRef = useRef<HTMLVideoElement>(null);
  const [frames, setFrames] = useState(0);
  const frameRef = useRef(onFrame);
  const failRef = useRef(onFailed);
  frameRef.current = onFrame;
  failRef.current = onFailed;
  const ice = JSON.stringify(iceServers ?? []);

  useEffect(() => {
    const video = videoRef.current;
    if (!video) return undefined;
    const peer = new RTCPeerConnection({ iceServers: JSON.parse(ice) as RTCIceServer[] });
    const controller = new AbortController();
    let stopped = false;
    let count = 0;
    const fail = (reason: string) => {
      if (stopped) return;
      stopped = true;
      controller.abort();
      peer.close();
      failRef.current?.(reason);
    };
    const timer = setTimeout(() => {
      if (count === 0) fail("WebRTC did not connect in time");
    }, WEBRTC_CONNECT_MS);
    const shown = () => {
      if (stopped) return;
      count += 1;
      setFrames(count);
      frameRef.current?.(new Date());
    };
    video.addEventListener("timeupdate", shown);
    peer.addTransceiver("video", { direction: "recvonly" });
    peer.addEventListener("track", (event) => {
      video.srcObject = event.streams[0] ?? new MediaStream([event.track]);
      void video.play().catch(() => undefined);
    });
    peer.addEventListener("connectionstatechange", () => {
      if (peer.connectionState === "failed") fail("the WebRTC connection failed");
    });
    const connect = async () => {
      await peer.setLocalDescription(await peer.createOffer());
      await gatheringDone(peer, 2000);
      const local = peer.localDescription;
      if (!local || stopped) return;
      const answer = await postWebRtcOffer(cameraId, local.sdp, controller.signal);
      if (!stopped) await peer.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    };
    connect().catch((err: unknown) => fail(`WebRTC: ${describeError(err)}`));
    return () => {
      stopped = true;
      clearTimeout(timer);
      controller.abort();
      video.removeEventListener("timeupdate", shown);
      peer.close();
      video.srcObject = null;
    };
  }, [cameraId, ice]);

  return (
    <video
      ref={videoRef}
      className="live-media"
      data-testid="live-media"
      data-transport="webrtc"
      data-frames={frames}
      muted
      autoPlay
      playsInline
      aria-label={`Live view of ${cameraName} (protected)`}
    />
  );
}

const MJPEG_RETRY_MS = 3000;

/** The fallback: the browser shows each JPEG part as it arrives; a broken stream is reopened. */
function MjpegPlayer({ cameraId, cameraName }: { cameraId: string; cameraName: string }) {
  const [attempt, setAttempt] = useState(0);
  useEffect(() => setAttempt(0), [cameraId]);
  const retry = () => {
    setTimeout(() => setAttempt((n) => n + 1), MJPEG_RETRY_MS);
  };
  const url = liveMjpegUrl(cameraId) + (attempt > 0 ? `?attempt=${attempt}` : "");
  return (
    <img
      className="live-media"
      data-testid="live-media"
      data-transport="mjpeg"
      src={url}
      alt={`Live view of ${cameraName} (protected)`}
      onError={retry}
    />
  );
}

interface Pending {
  queue: ArrayBuffer[];
}

function MsePlayer({ cameraId, cameraName, onFrame, onFailed }: LivePlayerProps) {
  const videoRef = useRef<HTMLVideoElement>(null);
  const [frames, setFrames] = useState(0);
  const frameRef = useRef(onFrame);
  const failRef = useRef(onFailed);
  frameRef.current = onFrame;
  failRef.current = onFailed;

  useEffect(() => {
    const video = videoRef.current;
    if (!video) return undefined;
    const source = new MediaSource();
    const objectUrl = URL.createObjectURL(source);
    video.src = objectUrl;
    const pending: Pending = { queue: [] };
    let buffer: SourceBuffer | null = null;
    let socket: WebSocket | null = null;
    let stopped = false;
    let count = 0;

    const fail = (reason: string) => {
      if (stopped) return;
      stopped = true;
      socket?.close();
      failRef.current?.(reason);
    };

    const pump = () => {
      if (!buffer || buffer.updating || stopped) return;
      const next = pending.queue.shift();
      if (next) {
        try {
          buffer.appendBuffer(next);
        } catch (err) {
          if (err instanceof DOMException && err.name === "QuotaExceededError") trim(true);
          else fail(`cannot append live video: ${String(err)}`);
        }
        return;
      }
      trim(false);
    };

    const trim = (force: boolean) => {
      if (!buffer || buffer.updating || buffer.buffered.length === 0) return;
      const start = buffer.buffered.start(0);
      const behind = video.currentTime - KEEP_BEHIND_S;
      if (behind > start + (force ? 0 : 5)) buffer.remove(start, behind);
    };

    const keepLive = () => {
      const ranges = video.buffered;
      const end = ranges.length > 0 ? ranges.end(ranges.length - 1) : null;
      const jump = liveEdgeJump(video.currentTime, end);
      if (jump !== null) video.currentTime = jump;
      if (video.paused && end !== null) void video.play().catch(() => undefined);
    };

    source.addEventListener("sourceopen", () => {
      socket = new WebSocket(liveWsUrl(window.location, cameraId));
      socket.binaryType = "arraybuffer";
      socket.onmessage = (message: MessageEvent<string | ArrayBuffer>) => {
        if (stopped) return;
        if (typeof message.data !== "string") {
          pending.queue.push(message.data);
          pump();
          return;
        }
        const info = JSON.parse(message.data) as { type: string; mime?: string; at?: string };
        if (info.type === "init" && info.mime) {
          if (!MediaSource.isTypeSupported(info.mime)) {
            fail(`this browser cannot play ${info.mime}`);
            return;
          }
          buffer = source.addSourceBuffer(info.mime);
          buffer.mode = "segments";
          buffer.addEventListener("updateend", () => {
            keepLive();
            pump();
          });
          buffer.addEventListener("error", () => fail("the live video could not be decoded"));
        } else if (info.type === "frame" && info.at) {
          count += 1;
          setFrames(count);
          frameRef.current?.(new Date(info.at));
        }
      };
      socket.onclose = (event) => {
        if (!stopped && event.code >= 4000) fail(event.reason || `closed (${event.code})`);
        else if (!stopped) fail("the live stream ended");
      };
    });
    return () => {
      stopped = true;
      socket?.close();
      URL.revokeObjectURL(objectUrl);
      video.removeAttribute("src");
      video.load();
    };
  }, [cameraId]);

  return (
    <video
      ref={videoRef}
      className="live-media"
      data-testid="live-media"
      data-transport="mse"
      data-frames={frames}
      muted
      autoPlay
      playsInline
      aria-label={`Live view of ${cameraName} (protected)`}
    />
  );
}
