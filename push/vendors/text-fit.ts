// Shared by the vendors' payload builders (PAY-3): vendors reject an
// oversized payload outright, which would lose the push. A shortened preview
// is always better than nothing, so we cut the human-readable text — body
// first, then title — and only give up when the non-text part alone is too big.

export interface AlertText {
  title?: string;
  body?: string;
}

export const ELLIPSIS = '…';

/** The text, or an ellipsis where a vendor requires a non-empty field. */
export const orEllipsis = (text: string | undefined): string => (text !== undefined && text !== '' ? text : ELLIPSIS);

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

/**
 * One text field cut to `limit` in the vendor's own unit (characters, "Chinese = 2"), on grapheme
 * boundaries, ending in an ellipsis when cut. For vendors that limit each field, not the payload.
 */
export function fitText(text: string, limit: number, units: (text: string) => number): { text: string; truncated: boolean } {
  const fitted = fitAlertText({ body: text }, (t) => units(t.body ?? ''), limit);
  return fitted ? { text: fitted.text.body ?? '', truncated: fitted.truncated } : { text: '', truncated: text !== '' };
}

export type FittedJsonBody =
  | { ok: true; body: Record<string, unknown>; bodyText: string; bytes: number; truncated: boolean }
  | { ok: false; reason: 'payload_too_large'; bytes: number; limit: number };

/**
 * The JSON body `bodyWith(text)`, its alert text shrunk until the whole body is at most `limit`
 * bytes. `alert` is undefined for a data-only push: nothing to shrink, so only the limit is checked.
 */
export function fitJsonBody(
  bodyWith: (text: AlertText) => Record<string, unknown>,
  alert: AlertText | undefined,
  limit: number,
): FittedJsonBody {
  const measure = (text: AlertText): number => jsonBytes(bodyWith(text));
  let text: AlertText = {};
  let truncated = false;
  if (alert !== undefined) {
    const fitted = fitAlertText(alert, measure, limit);
    if (!fitted) return { ok: false, reason: 'payload_too_large', bytes: measure({}), limit };
    ({ text, truncated } = fitted);
  }
  const body = bodyWith(text);
  const bodyText = JSON.stringify(body);
  const bytes = Buffer.byteLength(bodyText, 'utf8');
  if (bytes > limit) return { ok: false, reason: 'payload_too_large', bytes, limit };
  return { ok: true, body, bodyText, bytes, truncated };
}
