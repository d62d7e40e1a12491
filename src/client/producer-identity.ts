import * as grpc from '@grpc/grpc-js';
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
  /** Deadline of one InitProducer call. */
  callTimeoutMs: number;
  /** The producer's connection deadline: while it has given up, no call is made (its error instead). */
  reachability: Reachability;
  /** Called once, with the error, when the server says this producer is fenced. */
  onFenced: (error: StrataClientError) => void;
}

/**
 * The producer id and epoch a Producer stamps on its batches, handed out by the server (InitProducer,
 * as Kafka's InitProducerId): loaded for the first batch, and moved on to the next epoch when a
 * partition must start its sequence over (the pipeline's newGeneration hook). Partitions renumber one
 * at a time; the epoch they move to is the producer's newest, so one server call serves every
 * partition that renumbers from the same epoch (concurrent asks share it, later ones adopt it). Each
 * ask is one call: a failure goes back to the partition, which asks again after its backoff (within
 * its batches' delivery time and the connection deadline). Once the server answers PRODUCER_FENCED
 * (a newer instance took the name), every later ask fails with that error.
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

  /** The first generation: one InitProducer call, shared by every partition that asks meanwhile. */
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
    const { reachability } = this.options;
    const givenUp = reachability.checkGivenUp();
    if (givenUp) throw givenUp;
    try {
      const response = await call(this.stub.initProducer.bind(this.stub), request, this.options.callTimeoutMs);
      const generation = { producerId: response.producerId, epoch: response.producerEpoch };
      // Answers may come out of order only across a load and a bump; the newer one wins.
      if (!this.latest || this.latest.producerId !== generation.producerId || generation.epoch > this.latest.epoch) this.latest = generation;
      return this.latest;
    } catch (error) {
      const failure = StrataClientError.fromServiceError(error);
      if (failure.code === 'PRODUCER_FENCED') this.noteFenced(failure);
      // For the message a give-up repeats ("cannot reach ...: last error ...").
      else if (failure.grpcStatus === grpc.status.UNAVAILABLE) reachability.noteFailure(failure);
      throw failure;
    }
  }
}
