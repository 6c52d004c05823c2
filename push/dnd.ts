import type { DndWindow } from '../storage/index.ts';

/** Minutes after local midnight of `at` in an IANA time zone. */
export function localMinutes(at: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const hour = Number(parts.find((p) => p.type === 'hour')?.value ?? 0);
  const minute = Number(parts.find((p) => p.type === 'minute')?.value ?? 0);
  return hour * 60 + minute;
}

/**
 * SET-3: is `at` inside the do-not-disturb window? Start is inclusive, end exclusive; a window
 * whose start is after its end wraps past midnight (22:00–07:00); start == end means no window.
 */
export function inDnd(window: DndWindow | null, at: number): boolean {
  if (!window || window.start === window.end) return false;
  const minutes = localMinutes(at, window.timeZone);
  return window.start < window.end
    ? minutes >= window.start && minutes < window.end
    : minutes >= window.start || minutes < window.end;
}
