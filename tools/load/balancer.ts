/**
 * Where a device's next connection goes. One server: always its URL. A cluster: a random live
 * node on every (re)connection, as behind a TCP load balancer without sticky sessions; a node
 * taken out (its health check failed) gets no new connections.
 */
import { Rng } from './prng.ts';

export interface UrlPicker {
  /** The URL for a new connection. */
  pick(): string;
}

export function singleUrl(url: string): UrlPicker {
  return { pick: () => url };
}

export class Balancer implements UrlPicker {
  readonly urls: readonly string[];
  readonly #live: string[];
  // Its own PRNG: which node a device lands on must not shift the seeded mix of the run.
  readonly #rng: Rng;
  readonly picks = new Map<string, number>();

  constructor(urls: readonly string[], seed: number) {
    if (urls.length === 0) throw new Error('a balancer needs at least one node');
    this.urls = [...urls];
    this.#live = [...urls];
    this.#rng = new Rng(seed ^ 0x27d4eb2f);
  }

  pick(): string {
    if (this.#live.length === 0) throw new Error('no live node left to connect to');
    const url = this.#rng.pick(this.#live);
    this.picks.set(url, (this.picks.get(url) ?? 0) + 1);
    return url;
  }

  /** Take a node out of rotation (it is being killed). */
  remove(url: string): void {
    const i = this.#live.indexOf(url);
    if (i >= 0) this.#live.splice(i, 1);
  }

  live(): readonly string[] {
    return this.#live;
  }
}
