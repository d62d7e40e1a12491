import * as grpc from '@grpc/grpc-js';
import type { Clock } from '../core/clock.js';

/** The part of a grpc-js channel the monitor uses (a test passes a fake). */
export type WatchedChannel = Pick<grpc.Channel, 'getConnectivityState' | 'watchConnectivityState'>;

/**
 * What a client knows about its one connection, read from the grpc-js channel's connectivity state:
 * whether it was ever READY, and since when it has been trying to connect without success.
 *
 * grpc-js calls are not wait-for-ready: in TRANSIENT_FAILURE (a refused or failed connection
 * attempt) a new call fails at once with UNAVAILABLE, and the channel stays in TRANSIENT_FAILURE
 * while it reconnects with backoff, until an attempt succeeds (READY). A call made while CONNECTING
 * (for example to an address that takes the TCP connection and never answers) waits, up to its own
 * deadline. So "unreachable since" starts at the first CONNECTING or TRANSIENT_FAILURE after the
 * channel was last READY (or ever, for a channel never connected) and ends at READY; IDLE (the
 * connection closed and nobody asked for a new one, or it idled out) neither starts nor ends it.
 *
 * The monitor never asks the channel to connect: connections are made by calls, as before.
 */
export class ConnectionMonitor {
  private everReady = false;
  private notReadySinceMs: number | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly channel: WatchedChannel,
    readonly address: string,
    private readonly clock: Clock,
  ) {
    this.watch();
  }

  /** The channel was READY at least once: the address is right and a server answered there. */
  get hasBeenReady(): boolean {
    return this.everReady;
  }

  get isReady(): boolean {
    return this.channel.getConnectivityState(false) === grpc.connectivityState.READY;
  }

  /**
   * When the channel started trying to connect without a success since, on the clock's monotonic time
   * (only a duration is made of it); undefined while it is not trying.
   */
  get unreachableSinceMs(): number | undefined {
    return this.notReadySinceMs;
  }

  /** Asks an IDLE channel to connect (a channel already trying goes on with its backoff). */
  connect(): void {
    this.channel.getConnectivityState(true);
  }

  /** `listener` runs at every change of hasBeenReady or unreachableSinceMs; the result unsubscribes. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private watch(): void {
    const state = this.channel.getConnectivityState(false);
    this.observe(state);
    if (state === grpc.connectivityState.SHUTDOWN) return;
    try {
      // No deadline: grpc-js then keeps no timer for the watch, and calls it back at SHUTDOWN too.
      this.channel.watchConnectivityState(state, Infinity, () => this.watch());
    } catch {
      // The channel was closed in between: nothing more to watch.
    }
  }

  private observe(state: grpc.connectivityState): void {
    const before = this.notReadySinceMs;
    const wasReady = this.everReady;
    if (state === grpc.connectivityState.READY) {
      this.everReady = true;
      this.notReadySinceMs = undefined;
    } else if (state === grpc.connectivityState.CONNECTING || state === grpc.connectivityState.TRANSIENT_FAILURE) {
      this.notReadySinceMs ??= this.clock.monotonicMs();
    } else if (state === grpc.connectivityState.SHUTDOWN) {
      this.notReadySinceMs = undefined;
    }
    if (before !== this.notReadySinceMs || wasReady !== this.everReady) for (const listener of [...this.listeners]) listener();
  }
}
