/** Timeline arithmetic of the review page: spans on a bar, event stepping, wall clock <-> media time. */

export interface Interval {
  startMs: number;
  endMs: number;
}

/**
 * Sort and merge intervals that overlap or lie closer than `joinMs` (what one pixel of the bar covers),
 * so a bar over days draws a few rectangles, not thousands. Empty or inverted intervals are dropped.
 */
export function mergeIntervals(intervals: readonly Interval[], joinMs = 0): Interval[] {
  const sorted = intervals.filter((i) => i.endMs > i.startMs).sort((a, b) => a.startMs - b.startMs);
  const merged: Interval[] = [];
  for (const interval of sorted) {
    const last = merged[merged.length - 1];
    if (last && interval.startMs - last.endMs <= joinMs) last.endMs = Math.max(last.endMs, interval.endMs);
    else merged.push({ ...interval });
  }
  return merged;
}

export interface BarBox {
  leftPct: number;
  widthPct: number;
}

/** Where an interval sits on a bar over `[rangeStart, rangeEnd)`, clipped; null when outside it. */
export function barBox(interval: Interval, rangeStartMs: number, rangeEndMs: number): BarBox | null {
  const span = rangeEndMs - rangeStartMs;
  if (span <= 0) return null;
  const start = Math.max(interval.startMs, rangeStartMs);
  const end = Math.min(interval.endMs, rangeEndMs);
  if (end <= start) return null;
  return { leftPct: ((start - rangeStartMs) / span) * 100, widthPct: ((end - start) / span) * 100 };
}

/** The wall-clock time at a fraction (0..1) of the bar. */
export function timeAtFraction(fraction: number, rangeStartMs: number, rangeEndMs: number): number {
  const f = Math.min(1, Math.max(0, fraction));
  return rangeStartMs + f * (rangeEndMs - rangeStartMs);
}

/** The recorded time nearest to `atMs` (itself when recorded); null when nothing is recorded. */
export function snapToRecording(spans: readonly Interval[], atMs: number): number | null {
  let best: number | null = null;
  for (const span of spans) {
    if (atMs >= span.startMs && atMs < span.endMs) return atMs;
    const candidate = atMs < span.startMs ? span.startMs : span.endMs - 1;
    if (best === null || Math.abs(candidate - atMs) < Math.abs(best - atMs)) best = candidate;
  }
  return best;
}

/**
 * The start of the next (`direction` 1) or previous (-1) event from `atMs`; events within `slackMs` of `atMs`
 * count as the current one and are skipped, so pressing "next" repeatedly walks through them.
 */
export function stepEvent(startsMs: readonly number[], atMs: number, direction: 1 | -1, slackMs = 500): number | null {
  const sorted = [...startsMs].sort((a, b) => a - b);
  if (direction === 1) return sorted.find((t) => t > atMs + slackMs) ?? null;
  return [...sorted].reverse().find((t) => t < atMs - slackMs) ?? null;
}

/** A media fragment of an HLS playlist: where it starts in the media timeline and on the wall clock. */
export interface FragmentTime {
  /** Seconds in the media timeline. */
  start: number;
  duration: number;
  /** `EXT-X-PROGRAM-DATE-TIME`, epoch milliseconds. */
  programDateTime: number;
}

/** The media time showing wall time `wallMs`, or null when no fragment covers it (a gap). */
export function wallToMedia(fragments: readonly FragmentTime[], wallMs: number): number | null {
  for (const frag of fragments) {
    const offset = (wallMs - frag.programDateTime) / 1000;
    if (offset >= 0 && offset < frag.duration) return frag.start + offset;
  }
  return null;
}

/** The wall time shown at media time `mediaS`, or null outside the fragments. */
export function mediaToWall(fragments: readonly FragmentTime[], mediaS: number): number | null {
  for (const frag of fragments) {
    if (mediaS >= frag.start && mediaS < frag.start + frag.duration) {
      return frag.programDateTime + (mediaS - frag.start) * 1000;
    }
  }
  return null;
}
