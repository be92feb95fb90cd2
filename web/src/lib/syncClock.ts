/**
 * One clock for synchronized playback of several cameras: it runs on the wall clock of the recordings,
 * and each player is steered towards it. Small drift is corrected smoothly with the playback rate, large
 * drift (a stall, a seek) with a seek; a player without footage at the clock's time waits.
 */

export interface DriftSettings {
  /** Below this many seconds of drift nothing is done. */
  toleranceS: number;
  /** Above this, seek instead of nudging the rate. */
  seekS: number;
  /** Rate change per second of drift. */
  gain: number;
  /** Largest rate change (0.1: between 0.9x and 1.1x). */
  maxAdjust: number;
}

export const DEFAULT_DRIFT: DriftSettings = { toleranceS: 0.06, seekS: 1.0, gain: 0.5, maxAdjust: 0.1 };

export interface DriftAction {
  /** Seek to this media time, or null. */
  seekTo: number | null;
  /** Playback rate to use (relative to the clock's rate). */
  rate: number;
}

/** How to bring a player at `currentS` to the clock's `targetS` (both media seconds). */
export function correctDrift(targetS: number, currentS: number, settings: DriftSettings = DEFAULT_DRIFT): DriftAction {
  const drift = targetS - currentS; // > 0: the player is behind
  if (Math.abs(drift) >= settings.seekS) return { seekTo: targetS, rate: 1 };
  if (Math.abs(drift) <= settings.toleranceS) return { seekTo: null, rate: 1 };
  const adjust = Math.max(-settings.maxAdjust, Math.min(settings.maxAdjust, drift * settings.gain));
  return { seekTo: null, rate: 1 + adjust };
}

/** A pausable clock over recording time (epoch ms) that advances with `now` (ms) while playing. */
export class SyncClock {
  private anchorWallMs: number;
  private anchorNowMs: number;
  private running = false;
  private readonly now: () => number;

  constructor(startWallMs: number, now: () => number = () => performance.now()) {
    this.now = now;
    this.anchorWallMs = startWallMs;
    this.anchorNowMs = now();
  }

  get playing(): boolean {
    return this.running;
  }

  /** The recording time the clock shows now. */
  get wallMs(): number {
    return this.running ? this.anchorWallMs + (this.now() - this.anchorNowMs) : this.anchorWallMs;
  }

  play(): void {
    if (this.running) return;
    this.anchorNowMs = this.now();
    this.running = true;
  }

  pause(): void {
    if (!this.running) return;
    this.anchorWallMs = this.wallMs;
    this.running = false;
  }

  /** Jump to recording time `wallMs` (keeps playing or paused). */
  seek(wallMs: number): void {
    this.anchorWallMs = wallMs;
    this.anchorNowMs = this.now();
  }
}
