import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { systemClock, type Clock } from '../core/clock.js';
import { MAX_FAILED_CALL_LOG_LINES_PER_SECOND } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import { CALL_ID_METADATA_KEY, ERROR_CODE_METADATA_KEY, REQUEST_ID_METADATA_KEY } from '../protocol/protocol.js';

const callIds = new WeakMap<object, string>();
const PRINTABLE_ID = /^[\x21-\x7e]{1,128}$/;

/** Statuses that mean the server is at fault (logged as errors); the others are the caller's or expected. */
const SERVER_FAULT_STATUSES = new Set([grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.DATA_LOSS]);

/**
 * The id a call's log lines and its error trailer (`strata-call-id`) carry: the client's
 * `x-request-id` when it sent a printable one, else a new UUID. The same for the whole call: kept by
 * the call's metadata object, which the interceptors (auth-gate.ts) and the handler share.
 */
export function callIdOf(call: { metadata: grpc.Metadata }): string {
  let id = callIds.get(call.metadata);
  if (id === undefined) {
    const requested = call.metadata.get(REQUEST_ID_METADATA_KEY)[0];
    id = typeof requested === 'string' && PRINTABLE_ID.test(requested) ? requested : randomUUID();
    callIds.set(call.metadata, id);
  }
  return id;
}

type AnyCall = { metadata: grpc.Metadata; getPath(): string; prependListener(event: 'error', listener: (status: Partial<grpc.StatusObject>) => void): unknown };
type UnaryCallback = (error: Partial<grpc.StatusObject> | null, ...rest: unknown[]) => void;

/**
 * How many lines about caller-caused failures may still go out at info in the current second: at most
 * MAX_FAILED_CALL_LOG_LINES_PER_SECOND, counted in one-second windows of a monotonic clock.
 */
export class FailedCallLogBudget {
  private windowStartMs = Number.NEGATIVE_INFINITY;
  private linesInWindow = 0;
  private leftOutCount = 0;

  constructor(
    private readonly clock: Pick<Clock, 'monotonicMs'> = systemClock,
    readonly maxLinesPerSecond = MAX_FAILED_CALL_LOG_LINES_PER_SECOND,
  ) {}

  /** Whether this line goes out at info; if so, with how many were left out before it. */
  take(): { isAllowed: boolean; leftOutBefore: number } {
    const nowMs = this.clock.monotonicMs();
    if (nowMs - this.windowStartMs >= 1_000) {
      this.windowStartMs = nowMs;
      this.linesInWindow = 0;
    }
    if (this.linesInWindow >= this.maxLinesPerSecond) {
      this.leftOutCount++;
      return { isAllowed: false, leftOutBefore: 0 };
    }
    this.linesInWindow++;
    const leftOutBefore = this.leftOutCount;
    this.leftOutCount = 0;
    return { isAllowed: true, leftOutBefore };
  }
}

/**
 * Wraps every handler of a service so that a failed call is logged with its call id, method and
 * status (info for what the caller caused, so the call id a client error shows is found in the log
 * at the default level, within `budget`; error for what the server did), and the call id goes
 * back in the error's trailers, so a user can quote it. Streams fail by emitting 'error' on the call,
 * which this sees first (a prepended listener) to add the trailer before grpc-js sends the status.
 */
export function withCallLog<T extends grpc.UntypedServiceImplementation>(implementation: T, logger: Logger, budget = new FailedCallLogBudget()): T {
  const wrapped: grpc.UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(implementation)) {
    const run = handler as (call: AnyCall, callback?: UnaryCallback) => void;
    wrapped[name] = ((call: AnyCall, callback?: UnaryCallback) => {
      const onError = (status: Partial<grpc.StatusObject>) => logFailure(logger, budget, call, status);
      if (callback === undefined) {
        call.prependListener('error', onError);
        run(call);
        return;
      }
      run(call, (error, ...rest) => {
        if (error) onError(error);
        callback(error, ...rest);
      });
    }) as grpc.UntypedHandleCall;
  }
  return wrapped as T;
}

function logFailure(logger: Logger, budget: FailedCallLogBudget, call: AnyCall, status: Partial<grpc.StatusObject>): void {
  const callId = callIdOf(call);
  status.metadata?.set(CALL_ID_METADATA_KEY, callId);
  const code = status.code ?? grpc.status.UNKNOWN;
  const fields = { callId, method: call.getPath(), status: grpc.status[code], reason: status.metadata?.get(ERROR_CODE_METADATA_KEY)[0], details: status.details };
  if (SERVER_FAULT_STATUSES.has(code)) {
    logger.error(fields, 'call failed');
    return;
  }
  const { isAllowed, leftOutBefore } = budget.take();
  if (!isAllowed) logger.debug(fields, 'call failed');
  else if (leftOutBefore > 0) logger.info({ ...fields, leftOutBefore }, `call failed (${leftOutBefore} failed calls before it were logged at debug only: more than ${budget.maxLinesPerSecond} a second)`);
  else logger.info(fields, 'call failed');
}
