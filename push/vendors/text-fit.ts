// Shared by the APNs and FCM payload builders (PAY-3): vendors reject an
// oversized payload outright, which would lose the push. A shortened preview
// is always better than nothing, so we cut the human-readable text — body
// first, then title — and only give up when the non-text part alone is too big.

export interface AlertText {
  title?: string;
  body?: string;
}

export const ELLIPSIS = '…';

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Cut on grapheme boundaries (not just code points) so a flag or ZWJ emoji is
 * never split into a visibly different glyph; this is also UTF-8 safe.
 */
function graphemes(text: string): string[] {
  return Array.from(segmenter.segment(text), (s) => s.segment);
}

function clip(parts: string[], n: number): string {
  return parts.slice(0, n).join('').trimEnd() + ELLIPSIS;
}

/** Largest n in [0, max] for which fits(n) holds, assuming near-monotonicity; -1 if none. */
function largestFitting(max: number, fits: (n: number) => boolean): number {
  let lo = 0;
  let hi = max;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) {
      best = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return best;
}

/**
 * Shrink `text` until `measure(text) <= limit`.
 * `measure` must return the byte size of the full serialized vendor payload
 * built with the given text (so JSON escaping and multi-byte characters are
 * accounted for exactly). Returns null when even the payload without any
 * title/body exceeds the limit (custom data too large: caller rejects).
 */
export function fitAlertText(
  text: AlertText,
  measure: (t: AlertText) => number,
  limit: number,
): { text: AlertText; truncated: boolean } | null {
  if (measure(text) <= limit) return { text, truncated: false };
  if (measure({}) > limit) return null;

  const title = text.title;
  if (text.body !== undefined && text.body !== '') {
    const parts = graphemes(text.body);
    const n = largestFitting(parts.length - 1, (k) => measure({ title, body: clip(parts, k) }) <= limit);
    if (n >= 0) return { text: { title, body: clip(parts, n) }, truncated: true };
  }
  if (title !== undefined && title !== '') {
    if (measure({ title }) <= limit) return { text: { title }, truncated: true };
    const parts = graphemes(title);
    const m = largestFitting(parts.length - 1, (k) => measure({ title: clip(parts, k) }) <= limit);
    if (m >= 0) return { text: { title: clip(parts, m) }, truncated: true };
  }
  return { text: {}, truncated: true };
}

/** Byte length of a JSON document as sent on the wire. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}
