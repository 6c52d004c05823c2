import type { AppendResult } from '../../storage/index.ts';

/**
 * Committed events on their way to the nodes that hold their recipients' live sessions. Live
 * delivery hears of commits only through the broker, even on one node, so the single-node path
 * is the cluster path.
 *
 * Guarantees an implementation must give:
 * - Per recipient, the publications of one node arrive in the order they were published.
 * - At most once, not exactly once: a publication may be lost (a dropped connection, a node
 *   restarting). Nothing is lost with it: every event is in the recipient's inbox before it is
 *   published, and delivery fills a seq gap, or a live session's lag behind the head, from there.
 * - A node receives the publications of the users it subscribed to (it may receive more).
 */
export interface Broker {
  /**
   * Capability: publications may be lost (a broker between processes). Delivery then also checks
   * live sessions against the inbox head at their heartbeats, so a lost last publication is late,
   * never lost.
   */
  readonly atMostOnce: boolean;
  /** This node's handlers hear it synchronously (before the appender's ack); other nodes by the wire. */
  publish(committed: readonly AppendResult[]): void;
  /** This node's handler; called with each batch of publications it receives, in order, and whether it came from another node. */
  onPublication(handler: (committed: readonly AppendResult[], origin: 'local' | 'remote') => void): void;
  /** A best-effort notice to every other node (a cache to reload: a user's blocks). */
  signal(topic: string, payload: string): void;
  onSignal(handler: (topic: string, payload: string) => void): void;
  /**
   * This node's link to the other nodes was lost and is back: signals sent meanwhile may be lost,
   * so caches they keep fresh must be reloaded. (Publications need nothing: delivery repairs them.)
   * Never called on one node.
   */
  onResume(handler: () => void): void;
  /** This node has (or no longer has) live sessions of the user. */
  subscribe(userId: string): void;
  unsubscribe(userId: string): void;
  close(): Promise<void>;
}
