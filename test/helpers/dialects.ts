import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type StorageConfig, type Store, type StoreOptions } from '../../storage/index.ts';

/**
 * The dialects the storage conformance suite runs on: `TIDINGS_TEST_DIALECTS=sqlite,postgres`
 * (default: sqlite). Each gives a fresh database per call, reopenable, removed afterwards.
 */
export const TEST_DIALECTS: readonly string[] = (process.env.TIDINGS_TEST_DIALECTS ?? 'sqlite').split(',').map((d) => d.trim()).filter(Boolean);

export interface TestDatabase {
  readonly dialect: string;
  readonly config: StorageConfig;
  open(options?: Partial<StoreOptions>): Promise<Store>;
  drop(): Promise<void>;
}

const DEFAULT_OPTIONS: StoreOptions = { maxGroupMembers: 1000, maxBatch: 1000 };

export async function createTestDatabase(dialect: string): Promise<TestDatabase> {
  switch (dialect) {
    case 'sqlite': {
      const dir = mkdtempSync(join(tmpdir(), 'tidings-store-'));
      const config: StorageConfig = { dialect: 'sqlite', file: join(dir, 'tidings.db'), synchronous: 'NORMAL', cacheSizeMb: 8 };
      return {
        dialect, config,
        open: (options = {}) => openStore(config, { ...DEFAULT_OPTIONS, ...options }),
        drop: async () => rmSync(dir, { recursive: true, force: true }),
      };
    }
    default:
      throw new Error(`no test database for dialect ${dialect} (TIDINGS_TEST_DIALECTS)`);
  }
}

export interface StoreUnderTest {
  readonly store: Store;
  readonly database: TestDatabase;
  /** Close the store (committing what is pending) and open the same database again. */
  reopen(options?: Partial<StoreOptions>): Promise<Store>;
}

/** Run `body` against a fresh store of `dialect`, closed and dropped afterwards. */
export async function withTestStore(dialect: string, body: (t: StoreUnderTest) => Promise<void>, options: Partial<StoreOptions> = {}): Promise<void> {
  const database = await createTestDatabase(dialect);
  let store = await database.open(options);
  const t: StoreUnderTest = {
    get store() { return store; },
    database,
    async reopen(again = options) {
      await store.close();
      store = await database.open(again);
      return store;
    },
  };
  try {
    await body(t);
  } finally {
    await store.close();
    await database.drop();
  }
}
