import { status as grpcStatus } from '@grpc/grpc-js';
import { connectionErrorOf, StrataClientError } from '../client/client-error.js';
import type { StrataError } from '../core/errors.js';

/**
 * What a user can do about a failure the CLI prints, by code, where there is one thing to do (the
 * server's messages say what happened; these name the command that helps). Undefined when the
 * message already says it or there is nothing general to say.
 */
const FIXES: Record<string, string> = {
  SERVER_UNREACHABLE: 'is the server running? Start one with `strata serve`, or point at it with --server host:port or STRATA_SERVER',
  TOPIC_NOT_FOUND: '`strata topics list` lists the topics; `strata topics create <topic> --partitions <n>` creates one',
  PARTITION_NOT_FOUND: '`strata topics describe <topic>` shows its partitions; `strata topics add-partitions` adds more',
  TOPIC_ALREADY_EXISTS: '`strata topics describe <topic>` shows it; `strata topics delete <topic>` deletes it first',
  GROUP_NOT_FOUND: '`strata groups list` lists consumer groups (queue groups: `strata queue list`)',
  GROUP_NOT_EMPTY: 'stop its members first: `strata groups describe <group>` lists them',
  QUEUE_GROUP_NOT_FOUND: '`strata queue list` lists queue groups (consumer groups: `strata groups list`)',
  BATCH_TOO_LARGE: "send smaller records, or give the topic a larger max.message.bytes (`strata topics describe <topic>` shows it)",
  PRODUCER_FENCED: 'another producer with the same --producer-name started after this one; only the newest may write',
  DATA_DIR_LOCKED: 'stop the other server, or give this one another --data-dir',
};

export function fixFor(error: StrataError): string | undefined {
  // A call that found no server fails as UNAVAILABLE (a producer's as SERVER_UNREACHABLE).
  if (error instanceof StrataClientError && error.grpcStatus === grpcStatus.UNAVAILABLE && error.code === 'UNAVAILABLE') return FIXES.SERVER_UNREACHABLE;
  return FIXES[error.code];
}

/** The line the CLI prints for an expected failure: code, message, the fix, and the call id to find the server's log line by. */
export function errorLine(error: StrataError): string {
  const fix = fixFor(error);
  // grpc-js's text around the cause ("No connection established. Last error: ...") says nothing more.
  const connectionError = error instanceof StrataClientError ? connectionErrorOf(error) : undefined;
  const message = connectionError !== undefined ? `cannot reach the server: ${connectionError}` : error.message;
  const callId = error.callId !== undefined ? ` (call id ${error.callId})` : '';
  return `strata: ${error.code}: ${message}${callId}${fix ? `\n  fix: ${fix}` : ''}`;
}
