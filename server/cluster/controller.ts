import type { ServerFrame } from '../../protocol/index.ts';
import type { DeviceEntry } from './presence.ts';

export type DisconnectReason = 'replaced' | 'kicked' | 'logout';

export interface DisconnectCommand {
  reason: DisconnectReason;
  /** The close reason sent with the close frame. */
  message: string;
  /** A frame the device gets before it is closed (`kicked`). */
  notice?: ServerFrame;
}

/**
 * Kick, replace or disconnect a device's session wherever it is connected (AUTH-2, DEV-6): the
 * node holding the session carries the command out. The session ends as if it had ended locally
 * (one `device_offline`, with the command's reason).
 *
 * Guarantees an implementation must give:
 * - A command names the session (`sessionId`), so it never ends a newer session of the device.
 * - Resolves once the command has been handed to the node that holds the session (or that node
 *   is gone, in which case its presence entries expire); it does not wait for the socket to close.
 */
export interface Controller {
  disconnect(target: DeviceEntry, command: DisconnectCommand): Promise<void>;
  /** This node's executor of commands for its own sessions. */
  onCommand(handler: (target: DeviceEntry, command: DisconnectCommand) => void): void;
  close(): Promise<void>;
}
