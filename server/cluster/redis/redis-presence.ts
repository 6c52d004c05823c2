import type { Redis } from 'ioredis';
import type { DeviceEntry, DeviceRef, PresenceDirectory } from '../presence.ts';

const member = (userId: string, deviceId: string) => `${userId}\u0000${deviceId}`;

// add: replace the device's entry, return the old one, set its expiry. KEYS: user hash, expiry zset.
const ADD = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return old`;
// remove: only while the entry is still this session's.
const REMOVE = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cjson.decode(cur).sessionId == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[3])
end
return 0`;
// refresh: re-assert this node's entries (the whole entry: a Redis that restarted empty gets it
// back), each only while the device has no entry or still this session's: a device that moved to
// another node meanwhile is never pulled back. ARGV: prefix, expiresAt, then (device key, entry) pairs.
const REFRESH = `
for i = 3, #ARGV, 2 do
  local entry = cjson.decode(ARGV[i + 1])
  local key = ARGV[1] .. entry.userId
  local cur = redis.call('HGET', key, entry.deviceId)
  if (not cur) or cjson.decode(cur).sessionId == entry.sessionId then
    redis.call('HSET', key, entry.deviceId, ARGV[i + 1])
    redis.call('ZADD', KEYS[1], ARGV[2], ARGV[i])
  end
end
return 0`;
// expired: pop every entry whose expiry passed, once, atomically; returns the entries.
const EXPIRED = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, m in ipairs(due) do
  local sep = string.find(m, '\\0', 1, true)
  local user, device = string.sub(m, 1, sep - 1), string.sub(m, sep + 1)
  local key = ARGV[2] .. user
  local cur = redis.call('HGET', key, device)
  redis.call('ZREM', KEYS[1], m)
  if cur then
    redis.call('HDEL', key, device)
    table.insert(out, cur)
  end
end
return out`;

/**
 * The cluster's presence in Redis: a hash per user (device → session and node) and one sorted
 * set of expiry times. Each node re-asserts its own entries (`refresh`, throttled to a third of the
 * TTL); entries of a node that stopped are handed out once by `expired()` (a Lua script, so two
 * nodes never both get one) and are offline from the moment their expiry passed.
 */
export class RedisPresence implements PresenceDirectory {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #ttlMs: number;
  #lastRefresh = 0;

  constructor(redis: Redis, options: { prefix: string; ttlMs: number }) {
    this.#redis = redis;
    this.#prefix = options.prefix;
    this.#ttlMs = options.ttlMs;
    // After Redis comes back (possibly empty), the next scan re-asserts everything at once.
    redis.on('ready', () => { this.#lastRefresh = 0; });
  }

  #userKey(userId: string): string {
    return `${this.#prefix}presence:user:${userId}`;
  }

  get #expiryKey(): string {
    return `${this.#prefix}presence:expiry`;
  }

  #toEntry(text: string): DeviceEntry {
    return JSON.parse(text) as DeviceEntry;
  }

  /** The whole entry, so what `expired()` pops needs nothing else to be announced. */
  #stored(entry: DeviceEntry): string {
    const { userId, deviceId, platform, sessionId, nodeId } = entry;
    return JSON.stringify({ userId, deviceId, platform, sessionId, nodeId } satisfies DeviceEntry);
  }

  async add(entry: DeviceEntry): Promise<DeviceEntry | undefined> {
    const old = await this.#redis.eval(ADD, 2, this.#userKey(entry.userId), this.#expiryKey,
      entry.deviceId, this.#stored(entry), Date.now() + this.#ttlMs, member(entry.userId, entry.deviceId)) as string | null;
    return old ? this.#toEntry(old) : undefined;
  }

  async remove(entry: Pick<DeviceEntry, 'userId' | 'deviceId' | 'sessionId'>): Promise<void> {
    await this.#redis.eval(REMOVE, 2, this.#userKey(entry.userId), this.#expiryKey, entry.deviceId, entry.sessionId, member(entry.userId, entry.deviceId));
  }

  async refresh(entries: readonly DeviceEntry[]): Promise<void> {
    const now = Date.now();
    if (now - this.#lastRefresh < this.#ttlMs / 3) return;
    this.#lastRefresh = now;
    if (entries.length === 0) return;
    const expiresAt = now + this.#ttlMs;
    const parts: Array<Promise<unknown>> = [];
    for (let i = 0; i < entries.length; i += 500) {
      const part = entries.slice(i, i + 500);
      parts.push(this.#redis.eval(REFRESH, 1, this.#expiryKey, `${this.#prefix}presence:user:`, expiresAt,
        ...part.flatMap((e) => [member(e.userId, e.deviceId), this.#stored(e)])));
    }
    await Promise.all(parts);
  }

  async devicesOf(userId: string): Promise<DeviceEntry[]> {
    const all = await this.#redis.hgetall(this.#userKey(userId));
    const devices = Object.keys(all);
    if (devices.length === 0) return [];
    const scores = await this.#redis.zmscore(this.#expiryKey, ...devices.map((d) => member(userId, d)));
    const now = Date.now();
    return devices.filter((_, i) => Number(scores[i] ?? 0) > now).map((d) => this.#toEntry(all[d]!));
  }

  async isOnline(userId: string, deviceId: string): Promise<boolean> {
    return Number((await this.#redis.zscore(this.#expiryKey, member(userId, deviceId))) ?? 0) > Date.now();
  }

  async onlineAmong(devices: readonly DeviceRef[]): Promise<Set<string>> {
    const out = new Set<string>();
    if (devices.length === 0) return out;
    const members = [...new Set(devices.map((d) => member(d.userId, d.deviceId)))];
    const now = Date.now();
    for (let i = 0; i < members.length; i += 1000) {
      const part = members.slice(i, i + 1000);
      const scores = await this.#redis.zmscore(this.#expiryKey, ...part);
      part.forEach((m, j) => { if (Number(scores[j] ?? 0) > now) out.add(m); });
    }
    return out;
  }

  async expired(): Promise<DeviceEntry[]> {
    const popped = await this.#redis.eval(EXPIRED, 1, this.#expiryKey, Date.now(), `${this.#prefix}presence:user:`, 500) as Array<string>;
    return popped.map((text) => this.#toEntry(text));
  }

  async close(): Promise<void> {}
}
