import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { DEFAULT_SETTINGS, type SettingsPatch, type SettingsStore, type UserSettings } from '../settings-store.ts';

export class SqlSettingsStore implements SettingsStore {
  readonly #db: Kysely<Database>;
  /** user → users they blocked; every send checks it, so it lives in memory. */
  readonly #blocks: Map<string, Set<string>>;

  private constructor(db: Kysely<Database>, blocks: Map<string, Set<string>>) {
    this.#db = db;
    this.#blocks = blocks;
  }

  static async open(db: Kysely<Database>): Promise<SqlSettingsStore> {
    return new SqlSettingsStore(db, await readAllBlocks(db));
  }

  async get(userId: string): Promise<UserSettings> {
    const [row, mutes] = await Promise.all([
      this.#db.selectFrom('user_settings').selectAll().where('user_id', '=', userId).executeTakeFirst(),
      this.#db.selectFrom('user_mutes').select('conversation').where('user_id', '=', userId).orderBy('conversation').execute(),
    ]);
    const base = row ? {
      displayName: row.display_name,
      displayStyle: row.display_style as UserSettings['displayStyle'],
      dnd: row.dnd_start !== null && row.dnd_end !== null && row.dnd_time_zone ? { start: row.dnd_start, end: row.dnd_end, timeZone: row.dnd_time_zone } : null,
      pushEnabled: Number(row.push_enabled) === 1,
      syncBadges: Number(row.sync_badges) === 1,
    } : { ...DEFAULT_SETTINGS };
    return { ...base, muted: mutes.map((m) => m.conversation), blocked: [...(this.#blocks.get(userId) ?? [])].sort() };
  }

  async update(userId: string, patch: SettingsPatch): Promise<UserSettings> {
    const next = { ...(await this.get(userId)), ...patch };
    const values = {
      display_name: next.displayName, display_style: next.displayStyle,
      dnd_start: next.dnd?.start ?? null, dnd_end: next.dnd?.end ?? null, dnd_time_zone: next.dnd?.timeZone ?? null,
      push_enabled: next.pushEnabled ? 1 : 0, sync_badges: next.syncBadges ? 1 : 0, updated_at: Date.now(),
    };
    await this.#db.insertInto('user_settings').values({ user_id: userId, ...values })
      .onConflict((oc) => oc.column('user_id').doUpdateSet(values)).execute();
    return this.get(userId);
  }

  async setMuted(userId: string, conversation: string, muted: boolean): Promise<void> {
    if (muted) await this.#db.insertInto('user_mutes').values({ user_id: userId, conversation }).onConflict((oc) => oc.doNothing()).execute();
    else await this.#db.deleteFrom('user_mutes').where('user_id', '=', userId).where('conversation', '=', conversation).execute();
  }

  async setBlocked(userId: string, other: string, blocked: boolean): Promise<void> {
    if (blocked) {
      await this.#db.insertInto('user_blocks').values({ user_id: userId, blocked: other }).onConflict((oc) => oc.doNothing()).execute();
      this.#blocks.set(userId, (this.#blocks.get(userId) ?? new Set()).add(other));
    } else {
      await this.#db.deleteFrom('user_blocks').where('user_id', '=', userId).where('blocked', '=', other).execute();
      this.#blocks.get(userId)?.delete(other);
    }
  }

  async reloadBlocks(userId: string): Promise<void> {
    const rows = await this.#db.selectFrom('user_blocks').select('blocked').where('user_id', '=', userId).execute();
    if (rows.length === 0) this.#blocks.delete(userId);
    else this.#blocks.set(userId, new Set(rows.map((r) => r.blocked)));
  }

  async reloadAllBlocks(): Promise<void> {
    const fresh = await readAllBlocks(this.#db);
    this.#blocks.clear();
    for (const [user, blocked] of fresh) this.#blocks.set(user, blocked);
  }

  hasBlocked(userId: string, sender: string): boolean {
    return this.#blocks.get(userId)?.has(sender) ?? false;
  }
}

async function readAllBlocks(db: Kysely<Database>): Promise<Map<string, Set<string>>> {
  const blocks = new Map<string, Set<string>>();
  for (const row of await db.selectFrom('user_blocks').selectAll().execute()) {
    blocks.set(row.user_id, (blocks.get(row.user_id) ?? new Set()).add(row.blocked));
  }
  return blocks;
}
