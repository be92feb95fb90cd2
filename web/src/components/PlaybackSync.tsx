import Hls from "hls.js";
import { useEffect, useRef, useState } from "react";

import { playlistUrl } from "../api/review";
import { correctDrift } from "../lib/syncClock";
import { type FragmentTime, wallToMedia } from "../lib/timeline";

/** A player the shared clock steers: its video element and the wall-clock map of its playlist. */
export interface SyncTarget {
  video: HTMLVideoElement;
  fragments: FragmentTime[];
}

export interface SyncedVideoProps {
  cameraId: string;
  cameraName: string;
  windowStartMs: number;
  windowEndMs: number;
  /** Registers (or, with null, removes) this player with the clock. */
  register: (cameraId: string, target: SyncTarget | null) => void;
  /** No footage at the clock's time (shown over the picture). */
  noFootage: boolean;
}

/** One camera's recording over a window, played with hls.js (protected rendition) and steered by the clock. */
export function SyncedVideo({ cameraId, cameraName, windowStartMs, windowEndMs, register, noFootage }: SyncedVideoProps) {
  const videoRef = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState<string | null>(null);
  const registerRef = useRef(register);
  registerRef.current = register;

  useEffect(() => {
    const video = videoRef.current;
    if (!video) return undefined;
    setError(null);
    const target: SyncTarget = { video, fragments: [] };
    const url = playlistUrl(cameraId, windowStartMs, windowEndMs);
    let hls: Hls | null = null;
    if (Hls.isSupported()) {
      // No worker: the console's CSP allows no blob: scripts.
      hls = new Hls({ enableWorker: false, maxBufferLength: 30 });
      hls.on(Hls.Events.LEVEL_LOADED, (_event, data) => {
        target.fragments = data.details.fragments
          .filter((frag) => frag.programDateTime !== null)
          .map((frag) => ({ start: frag.start, duration: frag.duration, programDateTime: frag.programDateTime ?? 0 }));
        registerRef.current(cameraId, target);
      });
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (data.fatal) {
          setError(data.response?.code === 404 ? "No footage in this window." : `Playback failed (${data.details}).`);
        }
      });
      hls.loadSource(url);
      hls.attachMedia(video);
    } else {
      setError("This browser cannot play HLS recordings.");
    }
    return () => {
      registerRef.current(cameraId, null);
      hls?.destroy();
    };
  }, [cameraId, windowStartMs, windowEndMs]);

  return (
    <figure className="sync-cell" data-testid="sync-player" data-camera-id={cameraId}>
      <video ref={videoRef} muted playsInline preload="auto" aria-label={`Recording of ${cameraName} (protected)`} />
      <div className="live-overlay">
        <span className="live-name">{cameraName}</span>
      </div>
      {error || noFootage ? <p className="sync-nofootage">{error ?? "No recording at this time."}</p> : null}
    </figure>
  );
}

/**
 * Steers every registered player towards the clock's wall time: a player without footage then pauses,
 * the others play at a rate nudged by their drift (or seek when far off). Returns the cameras without footage.
 */
export function steer(targets: Map<string, SyncTarget>, wallMs: number, playing: boolean): Set<string> {
  const missing = new Set<string>();
  for (const [cameraId, { video, fragments }] of targets) {
    const media = wallToMedia(fragments, wallMs);
    if (media === null) {
      missing.add(cameraId);
      if (!video.paused) video.pause();
      continue;
    }
    if (!playing) {
      if (!video.paused) video.pause();
      if (Math.abs(media - video.currentTime) > 0.05) video.currentTime = media;
      continue;
    }
    const action = correctDrift(media, video.currentTime);
    if (action.seekTo !== null) video.currentTime = action.seekTo;
    video.playbackRate = action.rate;
    if (video.paused) void video.play().catch(() => undefined);
  }
  return missing;
}
