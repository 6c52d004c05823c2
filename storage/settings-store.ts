/** Receiver push settings (SET-1..6), readable in one call. */
export interface DndWindow {
  /** Minutes after local midnight, 0..1439; a window with start > end wraps past midnight. */
  start: number;
  end: number;
  /** IANA time zone the minutes are in. */
  timeZone: string;
}

export interface UserSettings {
  displayName: string | null;
  displayStyle: 'banner' | 'summary';
  dnd: DndWindow | null;
  pushEnabled: boolean;
  /** Badges and notifications follow reads on the user's other devices (silent updates); on by default. */
  syncBadges: boolean;
  /** Muted conversation ids (`p:…` for a peer, `g:…` for a group). */
  muted: string[];
  blocked: string[];
}

export const DEFAULT_SETTINGS: Readonly<UserSettings> = Object.freeze({
  displayName: null, displayStyle: 'banner', dnd: null, pushEnabled: true, syncBadges: true, muted: [], blocked: [],
});

export type SettingsPatch = Partial<Pick<UserSettings, 'displayName' | 'displayStyle' | 'dnd' | 'pushEnabled' | 'syncBadges'>>;

export interface SettingsStore {
  get(userId: string): Promise<UserSettings>;
  update(userId: string, patch: SettingsPatch): Promise<UserSettings>;
  setMuted(userId: string, conversation: string, muted: boolean): Promise<void>;
  setBlocked(userId: string, other: string, blocked: boolean): Promise<void>;
  /** Synchronous: has `userId` blocked `sender`? (held in memory for the send hot path) */
  hasBlocked(userId: string, sender: string): boolean;
  /** Another process changed this user's blocks: read them again. */
  reloadBlocks(userId: string): Promise<void>;
  /** Notices of other processes' changes may have been lost: read every user's blocks again. */
  reloadAllBlocks(): Promise<void>;
}
