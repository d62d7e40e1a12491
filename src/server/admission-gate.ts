import type { EventEmitter } from 'node:events';
import type { Http2Session } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { type StrataError, TooManyConnectionsError, TooManyStreamsError } from '../core/errors.js';
import { HALF_CLOSED_CALL_RESERVED_BYTES } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import type { MemoryBudget } from './memory-budget.js';
import { toServiceError } from './status.js';

export interface AdmissionLimits {
  maxConnectionsPerAddress: number;
  maxStreamsPerAddress: number;
  /** Reserved by every call while it is open (server-config.ts streamReservedBytes). */
  streamReservedBytes: number;
  /** Reserved by every connection while it is open. */
  connectionReservedBytes: number;
}

/**
 * How long a refused connection is kept for a call to tell it why, before it is closed anyway (a
 * gRPC client connects for a call and sends it at once). An address may have at most
 * maxConnectionsPerAddress refused connections waiting so; past that they are closed at once, with
 * no answer: the peer is opening connections in a loop.
 */
const REFUSED_CONNECTION_LINGER_MS = 2_000;
/** Refusals are logged at warn level at most this often (each one at debug). */
const REFUSAL_WARN_INTERVAL_MS = 10_000;

interface Connection {
  readonly address: string;
  readonly session: Http2Session;
  /** Why every call on it is refused (over the address's cap, or no budget for it). */
  readonly refusal: StrataError | undefined;
}

/**
 * Admits or refuses every connection and call before it can make the server hold anything, and
 * reserves what it may hold from the memory budget until it ends.
 *
 * How the budget counts HTTP/2 (the windows are memory the peer may fill without the server reading):
 * - Each call reserves its stream window (streamWindowBytes: DATA a client may send on a stream that
 *   nothing has read yet; Node stops acknowledging a stream's data once its reader is full, so no
 *   more than that) plus one request message (maxRequestBytes): grpc-js assembles a message before a
 *   handler sees it, and keeps at most one assembled message read ahead (produce-service.ts limits
 *   its stream's read-ahead to one); a peer that sends most of a large message and stops holds that
 *   much without any handler having run.
 * - The connection window (connectionWindowBytes) is not memory held: Node acknowledges connection-
 *   level data as it arrives, read or not, so what a connection's peer can leave unread is the sum
 *   of its streams' windows, reserved above. A connection reserves its fixed cost only
 *   (CONNECTION_RESERVED_BYTES), and one address may open at most maxConnectionsPerAddress.
 * - What a call then holds beyond its reservation (responses not yet flushed to a slow reader,
 *   requests being appended, heartbeat answers) is a MemoryShare of the service (consume-service.ts,
 *   produce-service.ts, group-service.ts).
 *
 * A refused call ends with RESOURCE_EXHAUSTED and its Strata code (MEMORY_BUDGET_EXHAUSTED,
 * TOO_MANY_STREAMS, TOO_MANY_CONNECTIONS) before its handler runs or its request is read. A refused
 * connection is kept only long enough to say so to its calls, then closed.
 *
 * Calls are admitted through a grpc-js server interceptor (public API); connections are seen through
 * grpc-js's private `http2Servers` map, as flow-control-window.ts does: without it (a grpc-js
 * upgrade), `watchConnections` returns false and only the per-call limits hold.
 */
export class AdmissionGate {
  private readonly connections = new Map<string, Connection>();
  private readonly connectionCounts = new Map<string, number>();
  private readonly streamCounts = new Map<string, number>();
  private readonly refusedConnectionCounts = new Map<string, number>();
  private refusedSinceWarnCount = 0;
  private lastWarnMs = -Infinity;

  constructor(
    private readonly budget: MemoryBudget,
    private readonly limits: AdmissionLimits,
    private readonly logger: Logger,
  ) {}

  connectionCount(address: string): number {
    return this.connectionCounts.get(address) ?? 0;
  }

  streamCount(address: string): number {
    return this.streamCounts.get(address) ?? 0;
  }

  /** For `new grpc.Server({ interceptors: [gate.interceptor] })`. */
  readonly interceptor: grpc.ServerInterceptor = (_method, call) => {
    const info = call.getConnectionInfo();
    const connection = this.connections.get(connectionKey(info.remoteAddress, info.remotePort));
    const address = connection?.address ?? normalizedAddress(info.remoteAddress);
    let refusal = connection?.refusal;
    let reservation: { release(): void; shrinkTo(bytes: number): void } | undefined;
    if (refusal === undefined && this.streamCount(address) >= this.limits.maxStreamsPerAddress) {
      refusal = new TooManyStreamsError(`${address} has ${this.streamCount(address)} calls open, as many as one address may have (maxStreamsPerAddress): retry when one ends`);
    }
    if (refusal === undefined) {
      try {
        reservation = this.budget.reserveResizable(this.limits.streamReservedBytes, `a call from ${address}`);
      } catch (error) {
        refusal = error as StrataError;
      }
    }
    if (refusal !== undefined) {
      const why = refusal;
      this.noteRefusal(address, why);
      return new grpc.ServerInterceptingCall(call, {
        // The call is never started: no handler runs and its request is not read.
        start: () => {
          call.sendStatus(toServiceError(why) as grpc.StatusObject);
          if (connection?.refusal !== undefined) connection.session.close();
        },
      });
    }
    this.streamCounts.set(address, this.streamCount(address) + 1);
    let isEnded = false;
    const end = () => {
      if (isEnded) return;
      isEnded = true;
      reservation!.release();
      decrement(this.streamCounts, address);
    };
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onCancel: end,
          onReceiveHalfClose: (halfCloseNext) => {
            reservation!.shrinkTo(HALF_CLOSED_CALL_RESERVED_BYTES);
            halfCloseNext();
          },
        }),
      sendStatus: (status, statusNext) => {
        end();
        statusNext(status);
      },
    });
  };

  /** Counts connections per address and reserves their cost; false if grpc-js's servers are out of reach. */
  watchConnections(server: grpc.Server): boolean {
    return onEachConnection(server, (session) => this.admitConnection(session));
  }

  private admitConnection(session: Http2Session): void {
    const socket = session.socket;
    // Gone (reset) before this ran: nothing to count.
    if (session.destroyed || socket === undefined || socket.remoteAddress === undefined) return;
    const key = connectionKey(socket.remoteAddress, socket.remotePort);
    const address = normalizedAddress(socket.remoteAddress);
    let refusal: StrataError | undefined;
    let releaseReservation: (() => void) | undefined;
    if (this.connectionCount(address) >= this.limits.maxConnectionsPerAddress) {
      refusal = new TooManyConnectionsError(`${address} has ${this.connectionCount(address)} connections open, as many as one address may have (maxConnectionsPerAddress): close some, or share one connection among more calls`);
    } else {
      try {
        releaseReservation = this.budget.reserve(this.limits.connectionReservedBytes, `a connection from ${address}`);
      } catch (error) {
        refusal = error as StrataError;
      }
    }
    if (refusal !== undefined) {
      this.noteRefusal(address, refusal);
      if ((this.refusedConnectionCounts.get(address) ?? 0) >= this.limits.maxConnectionsPerAddress) {
        session.destroy();
        return;
      }
      this.refusedConnectionCounts.set(address, (this.refusedConnectionCounts.get(address) ?? 0) + 1);
      setTimeout(() => session.destroy(), REFUSED_CONNECTION_LINGER_MS).unref();
    } else {
      this.connectionCounts.set(address, this.connectionCount(address) + 1);
    }
    this.connections.set(key, { address, session, refusal });
    session.once('close', () => {
      if (this.connections.get(key)?.session === session) this.connections.delete(key);
      if (refusal !== undefined) {
        decrement(this.refusedConnectionCounts, address);
        return;
      }
      releaseReservation!();
      decrement(this.connectionCounts, address);
    });
  }

  private noteRefusal(address: string, refusal: StrataError): void {
    this.logger.debug({ address, code: refusal.code, reason: refusal.message }, 'refused');
    this.refusedSinceWarnCount++;
    const nowMs = Date.now();
    if (nowMs - this.lastWarnMs < REFUSAL_WARN_INTERVAL_MS) return;
    this.logger.warn({ address, code: refusal.code, reason: refusal.message, refusedCount: this.refusedSinceWarnCount, budgetUsedBytes: this.budget.usedBytes, budgetLimitBytes: this.budget.limitBytes }, 'refusing connections or calls');
    this.lastWarnMs = nowMs;
    this.refusedSinceWarnCount = 0;
  }
}

function connectionKey(remoteAddress: string | undefined, remotePort: number | undefined): string {
  return `${remoteAddress ?? 'unknown'}|${remotePort ?? 0}`;
}

/** One address however it arrived: an IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d. */
function normalizedAddress(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return 'unknown';
  return remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice('::ffff:'.length) : remoteAddress;
}

function decrement(counts: Map<string, number>, address: string): void {
  const count = (counts.get(address) ?? 0) - 1;
  if (count > 0) counts.set(address, count);
  else counts.delete(address);
}

/**
 * Calls `listener` with every HTTP/2 session (connection) the server accepts, through grpc-js's
 * private `http2Servers` (it has no public hook); false when that is out of reach.
 */
export function onEachConnection(server: grpc.Server, listener: (session: Http2Session) => void): boolean {
  const http2Servers: unknown = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(http2Servers instanceof Map) || http2Servers.size === 0) return false;
  for (const http2Server of http2Servers.keys() as IterableIterator<EventEmitter>) http2Server.on('session', listener);
  return true;
}
