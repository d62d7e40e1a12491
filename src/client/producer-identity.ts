import * as grpc from '@grpc/grpc-js';
import type { Clock } from '../core/clock.js';
import type { InitProducerRequest } from '../generated/strata/v1/InitProducerRequest.js';
import type { ProduceServiceClient } from '../generated/strata/v1/ProduceService.js';
import { call } from './admin.js';
import { StrataClientError } from './client-error.js';
import type { Reachability } from './connection-deadline.js';

/** A producer id and epoch as the server handed them out: a generation of a partition's sequence. */
export interface Generation {
  producerId: number;
  epoch: number;
}

export interface ProducerIdentityOptions {
  /** Like Kafka's transactional.id: a newer Producer with the same name fences this one. */
  name?: string;
  clock: Clock;
  /** Deadline of one InitProducer call. */
  callTimeoutMs: number;
  /** How long InitProducer is asked again while the server is unavailable, at most. */
  deliveryTimeoutMs: number;
  retryBackoffMs: number;
  /** The producer's connection deadline: a give-up ends the wait at once with its error. */
  reachability: Reachability;
  /** Called once, with the error, when the server says this producer is fenced. */
  onFenced: (error: StrataClientError) => void;
}

/**
 * The producer id and epoch a Producer stamps on its batches, handed out by the server (InitProducer,
 * as Kafka's InitProducerId): loaded once before the first batch, and moved on to the next epoch
 * when a partition must start its sequence over. Partitions renumber one at a time; the epoch they
 * move to is the producer's newest, so one server call serves every partition that renumbers from
 * the same epoch (concurrent asks share it, later ones adopt it). Once the server answers
 * PRODUCER_FENCED (a newer instance took the name), every later ask fails with that error.
 */
export class ProducerIdentity {
  private latest: Generation | undefined;
  private loading: Promise<Generation> | undefined;
  private bumping: Promise<Generation> | undefined;
  private fencedError: StrataClientError | undefined;

  constructor(
    private readonly stub: ProduceServiceClient,
    private readonly options: ProducerIdentityOptions,
  ) {}

  /** The newest generation, once loaded. */
  get current(): Generation | undefined {
    return this.latest;
  }

  /** Set once the server said this producer is fenced. */
  get fenced(): StrataClientError | undefined {
    return this.fencedError;
  }

  /** The first generation: asks the server once (again while it is unreachable, within the connection deadline). */
  load(): Promise<Generation> {
    if (this.latest) return Promise.resolve(this.latest);
    if (this.fencedError) return Promise.reject(this.fencedError);
    if (!this.loading) {
      this.loading = this.ask({ producerName: this.options.name ?? '' });
      // A failed load is tried again by the next send.
      this.loading.catch(() => (this.loading = undefined));
    }
    return this.loading;
  }

  /**
   * The generation for a partition whose batches of `stale` must start over from sequence 0: the
   * producer's newest if it is newer than `stale` (another partition moved first), else the server's
   * next epoch for it (past epoch 32767, a fresh id).
   */
  next(stale: Generation): Promise<Generation> {
    if (this.fencedError) return Promise.reject(this.fencedError);
    const latest = this.latest;
    if (latest && (latest.producerId !== stale.producerId || latest.epoch > stale.epoch)) return Promise.resolve(latest);
    if (!this.bumping) {
      this.bumping = this.ask({ producerName: this.options.name ?? '', current: { producerId: stale.producerId, producerEpoch: stale.epoch } });
      const done = () => (this.bumping = undefined);
      this.bumping.then(done, done);
    }
    return this.bumping;
  }

  /** Takes note of a PRODUCER_FENCED answer to a batch of the newest generation (says so once). */
  noteFenced(error: StrataClientError): void {
    if (this.fencedError) return;
    this.fencedError = error;
    this.options.onFenced(error);
  }

  private async ask(request: InitProducerRequest): Promise<Generation> {
    const { clock, reachability } = this.options;
    const deadlineMs = clock.nowMs() + this.options.deliveryTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const givenUp = reachability.checkGivenUp();
      if (givenUp) throw givenUp;
      try {
        const response = await call(this.stub.initProducer.bind(this.stub), request, this.options.callTimeoutMs);
        const generation = { producerId: response.producerId, epoch: response.producerEpoch };
        // Answers may come out of order only across a load and a bump; the newer one wins.
        if (!this.latest || this.latest.producerId !== generation.producerId || generation.epoch > this.latest.epoch) this.latest = generation;
        return generation;
      } catch (error) {
        const failure = StrataClientError.fromServiceError(error);
        if (failure.code === 'PRODUCER_FENCED') {
          this.noteFenced(failure);
          throw failure;
        }
        // No connection: UNAVAILABLE, or a deadline that ran out while the channel was still connecting.
        const isUnavailable = failure.grpcStatus === grpc.status.UNAVAILABLE || (failure.grpcStatus === grpc.status.DEADLINE_EXCEEDED && !reachability.isReady);
        if (isUnavailable) reachability.noteFailure(failure);
        if (!isUnavailable || clock.nowMs() >= deadlineMs) throw failure;
      }
      await this.backoff(Math.min(1_000, this.options.retryBackoffMs * 2 ** attempt));
    }
  }

  /** Waits `delayMs`, or until the connection is given up on (then throws the give-up's error). */
  private backoff(delayMs: number): Promise<void> {
    const signal = this.options.reachability.signal;
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        timer.cancel();
        reject(signal.reason as Error);
      };
      const timer = this.options.clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, delayMs);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
