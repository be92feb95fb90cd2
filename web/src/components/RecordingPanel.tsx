import { useLayoutEffect, useRef } from "react";

import type { CameraOut, SegmentOut } from "../api/client";
import { formatBytes, formatDuration, formatTime } from "../lib/format";

export interface Playback {
  segment: SegmentOut;
  /** Where to start playing, in seconds from the segment's start. */
  offsetS: number;
}

export interface RecordingPanelProps {
  camera: CameraOut | null;
  segments: SegmentOut[];
  loaded: boolean;
  windowLabel: string;
  playback: Playback | null;
  notice: string | null;
  onPlay: (segment: SegmentOut) => void;
  onEnded: () => void;
  /** Said when there is no camera to show (e.g. none inside the selected map area). */
  emptyText?: string;
}

/** The selected camera's recorded segments (newest last) and the player. */
export function RecordingPanel(props: RecordingPanelProps) {
  const { camera, segments, loaded, windowLabel, playback, notice, onPlay, onEnded, emptyText } = props;
  const listRef = useRef<HTMLUListElement>(null);
  const stickToBottom = useRef(true);

  // Keep the newest segment in view while the operator has not scrolled up.
  useLayoutEffect(() => {
    const list = listRef.current;
    if (list && stickToBottom.current) list.scrollTop = list.scrollHeight;
  }, [segments]);

  const onScroll = () => {
    const list = listRef.current;
    if (list) stickToBottom.current = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  };

  const seg = playback?.segment;
  return (
    <section className="panel centre" aria-labelledby="recordings-title">
      <h2 id="recordings-title">{camera ? `Recordings — ${camera.name}` : "Recordings"}</h2>
      <div className="player-box">
        <video
          key={seg?.id ?? "none"}
          data-testid="player"
          className="player"
          controls
          autoPlay
          muted
          playsInline
          preload="metadata"
          src={seg?.media_url}
          onLoadedMetadata={(e) => {
            if (playback && playback.offsetS > 0) e.currentTarget.currentTime = playback.offsetS;
          }}
          onEnded={onEnded}
        />
        <p className="player-caption" data-testid="player-caption">
          {seg
            ? `${formatTime(seg.start)} – ${formatTime(seg.end)} · ${formatDuration(seg.duration_s)} · ` +
              `${seg.width}×${seg.height} ${seg.video_codec} · ${formatBytes(seg.size_bytes)}`
            : "Choose a recording below, or click an event on the right, to play it here."}
        </p>
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
      </div>
      {camera === null ? (
        <p className="empty">{emptyText ?? "Select a camera on the left to see its recordings."}</p>
      ) : (
        <>
          <p className="muted small">
            {windowLabel} · oldest first, newest at the bottom · updates automatically
          </p>
          <ul className="list recordings" data-testid="recording-list" ref={listRef} onScroll={onScroll}>
            {segments.map((segment) => (
              <li key={segment.id}>
                <button
                  type="button"
                  className={`item recording-item${segment.id === seg?.id ? " selected" : ""}`}
                  data-testid="recording-item"
                  data-segment-id={segment.id}
                  aria-pressed={segment.id === seg?.id}
                  onClick={() => onPlay(segment)}
                >
                  <span className="item-main">
                    <time dateTime={segment.start}>{formatTime(segment.start)}</time>
                    <span className="muted">{formatDuration(segment.duration_s)}</span>
                  </span>
                </button>
              </li>
            ))}
          </ul>
          {segments.length === 0 && (
            <p className="empty">
              {loaded
                ? "No recordings yet for this camera. New segments appear here every few seconds while it is streaming."
                : "Loading recordings…"}
            </p>
          )}
        </>
      )}
    </section>
  );
}
