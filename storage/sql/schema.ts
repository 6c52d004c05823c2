import type { Generated } from 'kysely';

/** Table types for Kysely, the same on every dialect. Columns are snake_case in SQL, mapped by hand at the edges. */
export interface Database {
  events: {
    id: number;
    kind: string;
    conversation: string;
    sender: string;
    client_msg_id: string | null;
    message_id: string | null;
    at: number;
    json: string;
    /** A group event's place among its group's run events (1, 2, 3, …: compact-inbox.ts), on a dialect with `compactInbox`; otherwise null. */
    conv_ord: number | null;
  };
  /** `run_ord` set: the row starts a run of its group's events from that conv_ord (compact-inbox.ts). */
  inbox: { user_id: string; seq: number; event_id: number; conversation: string; countable: number; run_ord: number | null };
  groups: {
    group_id: string; name: string; created_by: string; created_event_id: number;
    owner: string | null; join_policy: string; dissolved_event_id: number | null;
  };
  group_members: { group_id: string; user_id: string; joined_event_id: number; role: string };
  group_join_requests: { group_id: string; user_id: string; event_id: number };
  conversation_state: { user_id: string; conversation: string; read_event_id: number; unread: number; last_event_id: number };
  device_cursors: { user_id: string; device_id: string; acked_seq: number; updated_at: number };
  push_bindings: {
    /** `provider` is the registration kind the device named (wire name); `options` its vendor-specific fields as JSON. */
    push_id: string; user_id: string; device_id: string; provider: string; token: string; credential: string;
    options: string; active: number; created_at: number; updated_at: number;
  };
  push_jobs: {
    id: Generated<number>; job_key: string; push_id: string; user_id: string; device_id: string; event_id: number; seq: number; conversation: string; kind: string;
    idempotency_key: string; state: string; attempts: number; next_attempt_at: number; last_reason: string | null;
    /** While `sending`: the claiming dispatcher's lease; past it the job is due again. */
    lease_until: number;
    /** PAY-4: messages this job stands for, kept across its retries. */
    collapsed: number;
    vendor_id: string | null; created_at: number; updated_at: number;
  };
  push_trace: {
    id: Generated<number>; event_id: number; message_id: string | null; user_id: string; device_id: string | null;
    push_id: string | null; decision: string; reason: string; detail: string | null; at: number;
  };
  calls: { call_id: string; inviter: string; state: string; invitees: string; deadline: number; created_event_id: number; updated_event_id: number };
  user_settings: {
    user_id: string; display_name: string | null; display_style: string; dnd_start: number | null; dnd_end: number | null;
    dnd_time_zone: string | null; push_enabled: number; sync_badges: number; updated_at: number;
  };
  user_mutes: { user_id: string; conversation: string };
  user_blocks: { user_id: string; blocked: string };
  push_vendor_state: { key: string; value: string; expires_at: number };
}
