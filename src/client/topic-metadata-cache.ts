import * as grpc from '@grpc/grpc-js';
import { delay } from '../core/clock.js';
import { StrataClientError } from './client-error.js';
import type { Reachability } from './connection-deadline.js';
import type { ClientChannel } from './client-channel.js';

/**
 * How long a producer trusts a topic's partition count before it asks again, as Kafka's
 * metadata.max.age.ms (5 minutes): partitions added since then become visible to keyed and unkeyed
 * records alike. A record naming a partition past the known count asks at once.
 */
export const METADATA_MAX_AGE_MS = 5 * 60 * 1000;

interface TopicMetadata {
  partitionCount: number;
  /** The topic's max.message.bytes, when its description said. */
  maxBatchBytes: number | undefined;
  /** When it was fetched (or a refresh of it last failed). */
  fetchedAtMs: number;
}

/** A producer's view of its topics: partition counts and batch limits, loaded once and refreshed. */
export class TopicMetadataCache {
  private readonly known = new Map<string, TopicMetadata>();
  private readonly loading = new Map<string, Promise<TopicMetadata>>();
  private reads = 0;

  constructor(
    private readonly client: ClientChannel,
    private readonly options: { deliveryTimeoutMs: number; retryBackoffMs: number; isClosed: () => boolean; reachability?: Reachability },
  ) {}

  /** The partition count known now, if any; a stale one is still returned while a refresh starts. */
  partitionCount(topic: string): number | undefined {
    const metadata = this.known.get(topic);
    // The age is looked at once every 256 calls: this runs for every send(), and minutes are coarse.
    if (metadata && (++this.reads & 255) === 0 && this.now() - metadata.fetchedAtMs > METADATA_MAX_AGE_MS) {
      // A refresh that fails (the topic was deleted) is tried again after another max age, not per send.
      void this.load(topic).catch(() => (metadata.fetchedAtMs = this.now()));
    }
    return metadata?.partitionCount;
  }

  /** Asks the server again now, keeping what is known until the answer (and after a failure). */
  refresh(topic: string): void {
    if (this.known.has(topic)) void this.load(topic).catch(() => undefined);
  }

  maxBatchBytes(topic: string): number | undefined {
    return this.known.get(topic)?.maxBatchBytes;
  }

  /** The partition count, loading it if unknown; `refresh` asks the server again even if it is known. */
  async loadPartitionCount(topic: string, refresh = false): Promise<number> {
    const known = this.known.get(topic);
    if (known && !refresh) return known.partitionCount;
    return (await this.load(topic)).partitionCount;
  }

  private load(topic: string): Promise<TopicMetadata> {
    let loading = this.loading.get(topic);
    if (!loading) {
      loading = this.describeWithRetries(topic).then((metadata) => {
        this.known.set(topic, metadata);
        return metadata;
      });
      this.loading.set(topic, loading);
      const done = () => this.loading.delete(topic);
      loading.then(done, done);
    }
    return loading;
  }

  /**
   * The topic's description; a server that is unreachable for a moment (restarting) is asked again
   * with backoff for up to deliveryTimeoutMs, as sends to a known topic would be retried. When the
   * producer gives up on the server (Reachability), the wait ends at once with its error, whatever
   * this load's own deadline: every send waiting on the connection fails together.
   */
  private async describeWithRetries(topic: string): Promise<TopicMetadata> {
    const deadlineMs = this.now() + this.options.deliveryTimeoutMs;
    const reachability = this.options.reachability;
    for (let attempt = 0; ; attempt++) {
      const givenUp = reachability?.checkGivenUp();
      if (givenUp) throw givenUp;
      try {
        const { partitionCount, config } = await untilAborted(this.client.admin.describeTopic(topic), reachability?.signal);
        const maxBatchBytes = Number(config?.['max.message.bytes']);
        return { partitionCount, maxBatchBytes: Number.isSafeInteger(maxBatchBytes) && maxBatchBytes > 0 ? maxBatchBytes : undefined, fetchedAtMs: this.now() };
      } catch (error) {
        // Given up on during the call.
        if (reachability?.signal.aborted) throw reachability.signal.reason;
        // No connection: UNAVAILABLE, or a deadline that ran out while the channel was still connecting.
        const isUnavailable = error instanceof StrataClientError && (error.grpcStatus === grpc.status.UNAVAILABLE || (error.grpcStatus === grpc.status.DEADLINE_EXCEEDED && reachability !== undefined && !reachability.isReady));
        if (isUnavailable) reachability?.noteFailure(error);
        if (!isUnavailable || this.options.isClosed() || this.now() >= deadlineMs) throw error;
      }
      // A send is owed its answer: the backoff holds the process as a plain timer would.
      await delay(this.client.clock, Math.min(1_000, this.options.retryBackoffMs * 2 ** attempt), { signal: reachability?.signal, keepsProcessAlive: true });
      if (reachability?.signal.aborted) throw reachability.signal.reason;
    }
  }

  private now(): number {
    return this.client.clock.nowMs();
  }
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts (the work itself goes on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}
