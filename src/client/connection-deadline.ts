import type { Clock, TimerHandle } from '../core/clock.js';
import { connectionErrorOf, ServerUnreachableError, type StrataClientError } from './client-error.js';
import type { ConnectionMonitor } from './connection-monitor.js';

/** What waits on the connection reads: aborted (reason: ServerUnreachableError) while the server is given up on. */
export interface Reachability {
  readonly signal: AbortSignal;
  readonly isReady: boolean;
  /**
   * The give-up error while the server is given up on (then also asks the channel to connect, so
   * that the end of the outage is seen even when nothing else makes a call); else undefined.
   */
  checkGivenUp(): ServerUnreachableError | undefined;
  /** A failed call: an UNAVAILABLE one names the connection error the give-up message repeats. */
  noteFailure(error: StrataClientError): void;
}

export interface ConnectionDeadlineOptions {
  /** How long an outage of a connection that worked before is waited out. */
  deliveryTimeoutMs: number;
  /** How long a client that has never reached its server waits for a first connection. */
  firstConnectTimeoutMs: number;
  clock: Clock;
  /** Runs once per give-up, with the error everything waiting fails with. */
  onUnreachable: (error: ServerUnreachableError) => void;
}

/**
 * One deadline for everything a producer has waiting on a connection that cannot be made, as
 * kafkajs and librdkafka fail a batch at once rather than record by record: when the server has been
 * unreachable (ConnectionMonitor) for the whole allowance, `onUnreachable` fails everything waiting
 * together, and until the channel is READY again every call that fails for want of a connection
 * fails for good at once instead of retrying (so sends made during a known outage do not each wait
 * their own full delivery timeout, one after another).
 *
 * The allowance: deliveryTimeoutMs after a connection that worked is lost (a server restart is
 * waited out); firstConnectTimeoutMs (a few seconds) while the client has never reached the server,
 * where a wrong address or a server that is not running is the likely cause and waiting minutes
 * would hide it.
 */
export class ConnectionDeadline implements Reachability {
  private controller = new AbortController();
  private timer: TimerHandle | undefined;
  private lastConnectionError: string | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly monitor: ConnectionMonitor,
    private readonly options: ConnectionDeadlineOptions,
  ) {
    this.unsubscribe = monitor.onChange(() => this.evaluate());
    this.evaluate();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get isReady(): boolean {
    return this.monitor.isReady;
  }

  checkGivenUp(): ServerUnreachableError | undefined {
    if (!this.controller.signal.aborted) return undefined;
    this.monitor.connect();
    return this.controller.signal.reason as ServerUnreachableError;
  }

  noteFailure(error: StrataClientError): void {
    this.lastConnectionError = connectionErrorOf(error) ?? this.lastConnectionError;
  }

  close(): void {
    this.unsubscribe();
    this.timer?.cancel();
    this.timer = undefined;
  }

  private evaluate(): void {
    const sinceMs = this.monitor.unreachableSinceMs;
    if (sinceMs === undefined) {
      // Connected again (or not trying): calls may retry again, and the next outage gets its own deadline.
      this.timer?.cancel();
      this.timer = undefined;
      if (this.controller.signal.aborted) this.controller = new AbortController();
      this.lastConnectionError = undefined;
      return;
    }
    if (this.controller.signal.aborted || this.timer) return;
    const { deliveryTimeoutMs, firstConnectTimeoutMs, clock } = this.options;
    const allowanceMs = this.monitor.hasBeenReady ? deliveryTimeoutMs : Math.min(firstConnectTimeoutMs, deliveryTimeoutMs);
    this.timer = clock.setTimeout(() => {
      this.timer = undefined;
      const stillSinceMs = this.monitor.unreachableSinceMs;
      if (stillSinceMs === undefined) return;
      const error = new ServerUnreachableError(this.monitor.address, clock.monotonicMs() - stillSinceMs, this.lastConnectionError);
      this.controller.abort(error);
      this.options.onUnreachable(error);
    }, sinceMs + allowanceMs - clock.monotonicMs());
  }
}
