import type { AdminServiceClient } from '../generated/strata/v1/AdminService.js';
import type { PartitionOffset__Output } from '../generated/strata/v1/PartitionOffset.js';
import type { StartPosition } from '../generated/strata/v1/StartPosition.js';
import type { TopicDescription__Output } from '../generated/strata/v1/TopicDescription.js';
import type { TopicSummary__Output } from '../generated/strata/v1/TopicSummary.js';
import { systemClock } from '../core/clock.js';
import { StrataClientError } from './client-error.js';

export type OffsetSpec = 'earliest' | 'latest' | { timestampMs: number };

/** How long a unary call may take before it fails with DEADLINE_EXCEEDED, unless told otherwise. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

/**
 * A unary call as a promise, with a deadline (a server that stops answering cannot hold a caller
 * forever); failures become StrataClientError.
 */
export function call<Req, Res>(method: (request: Req, callback: (error: unknown, response?: Res) => void) => unknown, request: Req, timeoutMs = DEFAULT_CALL_TIMEOUT_MS): Promise<Res> {
  // Generated unary methods also take (request, options, callback); the two-argument form above is
  // what TypeScript infers the response type from (the last overload).
  const withOptions = method as unknown as (request: Req, options: { deadline: Date }, callback: (error: unknown, response?: Res) => void) => unknown;
  return new Promise<Res>((resolve, reject) => {
    // grpc-js throws at once on a closed client ("Channel has been shut down"): the same typed error as any failure.
    try {
      // The deadline is grpc-js's: its own timer on the real clock ends the call, so it is read from
      // the system clock whatever clock the client was given (a manual one would end every call at once).
      withOptions(request, { deadline: new Date(systemClock.nowMs() + timeoutMs) }, (error, response) => (error ? reject(StrataClientError.fromServiceError(error)) : resolve(response!)));
    } catch (error) {
      reject(StrataClientError.fromServiceError(error));
    }
  });
}

export function startPositionToProto(spec: OffsetSpec | number): StartPosition {
  if (typeof spec === 'number') return { offset: spec };
  if (spec === 'earliest') return { point: 'START_POINT_EARLIEST' };
  if (spec === 'latest') return { point: 'START_POINT_LATEST' };
  return { timestampMs: spec.timestampMs };
}

/** The Admin service, one method per RPC. */
export class Admin {
  constructor(
    private readonly stub: AdminServiceClient,
    private readonly callTimeoutMs = DEFAULT_CALL_TIMEOUT_MS,
  ) {}

  async createTopic(topic: string, options: { partitions: number; config?: Record<string, string> }): Promise<TopicDescription__Output> {
    const response = await call(this.stub.createTopic.bind(this.stub), { topic, partitionCount: options.partitions, config: options.config ?? {} }, this.callTimeoutMs);
    return response.topic!;
  }

  async deleteTopic(topic: string): Promise<void> {
    await call(this.stub.deleteTopic.bind(this.stub), { topic }, this.callTimeoutMs);
  }

  async listTopics(): Promise<TopicSummary__Output[]> {
    return (await call(this.stub.listTopics.bind(this.stub), {}, this.callTimeoutMs)).topics;
  }

  async describeTopic(topic: string): Promise<TopicDescription__Output> {
    return (await call(this.stub.describeTopic.bind(this.stub), { topic }, this.callTimeoutMs)).topic!;
  }

  async createPartitions(topic: string, partitions: number): Promise<TopicDescription__Output> {
    return (await call(this.stub.createPartitions.bind(this.stub), { topic, partitionCount: partitions }, this.callTimeoutMs)).topic!;
  }

  /** Earliest, latest, or the first offset at or after a time, per partition (all by default). */
  async listOffsets(topic: string, spec: OffsetSpec, partitions: number[] = []): Promise<PartitionOffset__Output[]> {
    return (await call(this.stub.listOffsets.bind(this.stub), { topic, partitions, position: startPositionToProto(spec) }, this.callTimeoutMs)).offsets;
  }
}
