import type { KeyboardEvent, MouseEvent } from "react";

import type { TimelineOut } from "../api/review";
import { formatDuration } from "../lib/format";
import { type Interval, barBox, mergeIntervals, timeAtFraction } from "../lib/timeline";

export interface TimelineBarProps {
  label: string;
  timeline: TimelineOut | null;
  rangeStartMs: number;
  rangeEndMs: number;
  cursorMs: number | null;
  onSeek: (wallMs: number) => void;
}

/** Width of the bar the server's merging aims at; spans closer than one of its pixels merge here too. */
const BAR_PIXELS = 1000;
const KEY_STEP = 0.01;

export function spansOf(timeline: TimelineOut | null): Interval[] {
  if (!timeline) return [];
  return timeline.recorded.map((span) => ({ startMs: Date.parse(span.start), endMs: Date.parse(span.end) }));
}

/** One camera's recorded spans (green), gaps (hatched) and events (ticks) over the range; click to seek. */
export function TimelineBar({ label, timeline, rangeStartMs, rangeEndMs, cursorMs, onSeek }: TimelineBarProps) {
  const joinMs = (rangeEndMs - rangeStartMs) / BAR_PIXELS;
  const spans = mergeIntervals(spansOf(timeline), joinMs);
  const gaps = timeline
    ? timeline.gaps.map((gap) => ({ startMs: Date.parse(gap.start), endMs: Date.parse(gap.end) }))
    : [];
  const seekAt = (event: MouseEvent<HTMLDivElement>) => {
    const rect = event.currentTarget.getBoundingClientRect();
    onSeek(timeAtFraction((event.clientX - rect.left) / Math.max(1, rect.width), rangeStartMs, rangeEndMs));
  };
  const onKey = (event: KeyboardEvent<HTMLDivElement>) => {
    const step = (rangeEndMs - rangeStartMs) * KEY_STEP;
    const at = cursorMs ?? rangeStartMs;
    if (event.key === "ArrowRight") onSeek(Math.min(rangeEndMs, at + step));
    else if (event.key === "ArrowLeft") onSeek(Math.max(rangeStartMs, at - step));
    else return;
    event.preventDefault();
  };
  const cursor = cursorMs === null ? null : barBox({ startMs: cursorMs, endMs: cursorMs + 1 }, rangeStartMs, rangeEndMs);
  const recorded = timeline ? formatDuration(timeline.recorded_s) : "";
  return (
    <div className="timeline-row">
      <span className="small">
        <strong>{label}</strong>
        <br />
        <span className="muted">{timeline ? `${recorded} recorded` : "loading…"}</span>
      </span>
      <div
        className="timeline"
        data-testid="timeline"
        data-spans={spans.length}
        data-events={timeline?.events.length ?? 0}
        role="slider"
        tabIndex={0}
        aria-label={`Timeline of ${label}`}
        aria-valuemin={rangeStartMs}
        aria-valuemax={rangeEndMs}
        aria-valuenow={cursorMs ?? rangeStartMs}
        aria-valuetext={cursorMs === null ? "not playing" : new Date(cursorMs).toLocaleString()}
        onClick={seekAt}
        onKeyDown={onKey}
      >
        {gaps.map((gap) => {
          const box = barBox(gap, rangeStartMs, rangeEndMs);
          return box ? <Box key={`g${gap.startMs}`} className="timeline-gap" box={box} /> : null;
        })}
        {spans.map((span) => {
          const box = barBox(span, rangeStartMs, rangeEndMs);
          return box ? <Box key={`s${span.startMs}`} className="timeline-span" box={box} testId="timeline-span" /> : null;
        })}
        {(timeline?.events ?? []).map((event) => {
          const at = Date.parse(event.start);
          const box = barBox({ startMs: at, endMs: at + 1 }, rangeStartMs, rangeEndMs);
          return box ? (
            <Box key={event.id} className="timeline-event" box={box} title={`${event.kind} · ${event.label}`} />
          ) : null;
        })}
        {cursor ? <Box className="timeline-cursor" box={cursor} /> : null}
      </div>
    </div>
  );
}

function Box({
  className,
  box,
  title,
  testId,
}: {
  className: string;
  box: { leftPct: number; widthPct: number };
  title?: string;
  testId?: string;
}) {
  return (
    <span
      className={className}
      data-testid={testId}
      title={title}
      ref={(node) => {
        // Set through the CSSOM: the console's CSP forbids inline style attributes.
        if (node) {
          node.style.left = `${box.leftPct}%`;
          if (!className.endsWith("event") && !className.endsWith("cursor")) node.style.width = `${Math.max(0.1, box.widthPct)}%`;
        }
      }}
    />
  );
}
