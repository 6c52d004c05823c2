/** The key of a device in sets and maps. */
export const deviceKey = (userId: string, deviceId: string): string => `${userId}\u0000${deviceId}`;

/** Group items by a key, in order (one pass; no array copies per item). */
export function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
