import { StrataClientError } from '../../src/client/client-error.js';
import type { GenerationSource } from '../../src/client/produce-pipeline.js';
import type { Generation } from '../../src/client/producer-identity.js';

/**
 * The producer ids and epochs a server would hand out, in memory, for pipeline tests: starts at
 * `firstId` epoch 0; `next(stale)` adopts a newer generation if there is one, else bumps the epoch
 * (past 32767, the next id at epoch 0), as InitProducer does. `asked` lists every bump it granted.
 */
export class FakeIdentity implements GenerationSource {
  current: Generation;
  fenced: StrataClientError | undefined;
  readonly asked: Generation[] = [];
  private nextId: number;

  constructor(firstId: number) {
    this.current = { producerId: firstId, epoch: 0 };
    this.nextId = firstId + 1;
  }

  next(stale: Generation): Promise<Generation> {
    if (this.fenced) return Promise.reject(this.fenced);
    if (this.current.producerId !== stale.producerId || this.current.epoch > stale.epoch) return Promise.resolve(this.current);
    this.asked.push(stale);
    this.current = stale.epoch >= 0x7fff ? { producerId: this.nextId++, epoch: 0 } : { producerId: stale.producerId, epoch: stale.epoch + 1 };
    return Promise.resolve(this.current);
  }

  noteFenced(error: StrataClientError): void {
    this.fenced ??= error;
  }
}
