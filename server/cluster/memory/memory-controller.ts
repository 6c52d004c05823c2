import type { Controller, DisconnectCommand } from '../controller.ts';
import type { DeviceEntry } from '../presence.ts';

/** One node's controller: every session is local, so a command is carried out at once. */
export class MemoryController implements Controller {
  #handler: ((target: DeviceEntry, command: DisconnectCommand) => void) | undefined;

  async disconnect(target: DeviceEntry, command: DisconnectCommand): Promise<void> {
    this.#handler?.(target, command);
  }

  onCommand(handler: (target: DeviceEntry, command: DisconnectCommand) => void): void {
    this.#handler = handler;
  }

  async close(): Promise<void> {}
}
