import type { Redis } from 'ioredis';
import type { Controller, DisconnectCommand } from '../controller.ts';
import type { DeviceEntry } from '../presence.ts';

type Handler = (target: DeviceEntry, command: DisconnectCommand) => void;

/**
 * Kick / replace commands to the node that holds the session, over that node's own Redis
 * channel; a command for this node runs at once. A command to a node that died is lost with it:
 * its presence entries expire instead.
 */
export class RedisController implements Controller {
  readonly #commands: Redis;
  readonly #nodeId: string;
  readonly #prefix: string;
  #handler: Handler | undefined;

  private constructor(commands: Redis, nodeId: string, prefix: string) {
    this.#commands = commands;
    this.#nodeId = nodeId;
    this.#prefix = prefix;
  }

  static async start(commands: Redis, subscriber: Redis, options: { nodeId: string; prefix: string; onError(error: unknown): void }): Promise<RedisController> {
    const controller = new RedisController(commands, options.nodeId, options.prefix);
    const mine = controller.#channel(options.nodeId);
    subscriber.on('message', (channel: string, text: string) => {
      if (channel !== mine) return;
      try {
        const { target, command } = JSON.parse(text) as { target: DeviceEntry; command: DisconnectCommand };
        controller.#handler?.(target, command);
      } catch (error) {
        options.onError(error);
      }
    });
    await subscriber.subscribe(mine);
    return controller;
  }

  #channel(nodeId: string): string {
    return `${this.#prefix}control:${nodeId}`;
  }

  async disconnect(target: DeviceEntry, command: DisconnectCommand): Promise<void> {
    if (target.nodeId === this.#nodeId) {
      this.#handler?.(target, command);
      return;
    }
    await this.#commands.publish(this.#channel(target.nodeId), JSON.stringify({ target, command }));
  }

  onCommand(handler: Handler): void {
    this.#handler = handler;
  }

  async close(): Promise<void> {}
}
