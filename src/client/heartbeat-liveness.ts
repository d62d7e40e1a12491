import { MAX_UNANSWERED_HEARTBEATS } from '../core/limits.js';

/**
 * Whether a group member may still count itself in the group. The coordinator removes a member
 * whose heartbeats stop for the session timeout, counted from when it received the last one. The
 * member cannot see that moment, but it knows when it sent each heartbeat, and answers come in the
 * order of the heartbeats on a stream: an answer shows the server had a heartbeat sent no earlier
 * than the oldest one still unanswered. So the member's deadline is that send time plus the session
 * timeout, at or before the server's own. This holds under a blocked event loop too, where an answer
 * may be read seconds after the server wrote it.
 *
 * The coordinator also pushes answers nobody asked for (another member let go of a partition): such
 * an answer takes the place of the oldest unanswered heartbeat, which is then counted as received. It
 * was sent, and on a stream that still works it is received in order, so the deadline can only be
 * late by one heartbeat interval when that stream broke right after the push.
 */
export class HeartbeatLiveness {
  private readonly unansweredSentMs: number[] = [];
  private lastAnsweredSentMs: number | undefined;
  /** When the stream broke, until a heartbeat sent after the last break is answered: the grace's clock. */
  private brokenAtMs: number | undefined;
  /** The last break, until a heartbeat sent after it is answered. */
  private lastBreakMs: number | undefined;
  /** A break said the server shuts down: its coordinator, and its grace, are gone with it. */
  private isServerGone = false;

  /** A heartbeat went out on the current stream at `nowMs`. */
  sent(nowMs: number): void {
    if (this.unansweredSentMs.length < MAX_UNANSWERED_HEARTBEATS) this.unansweredSentMs.push(nowMs);
  }

  /**
   * An answer arrived on the current stream (any: a failure answers a heartbeat too, and leaving it
   * out would pair every later answer with a heartbeat sent earlier than its own). Returns when the
   * heartbeat it answers was sent, if known.
   */
  answered(): number | undefined {
    return this.unansweredSentMs.shift();
  }

  /** The answer to the heartbeat sent at `sentMs` was a success for the member's current id. */
  vouch(sentMs: number): void {
    this.lastAnsweredSentMs = Math.max(this.lastAnsweredSentMs ?? sentMs, sentMs);
    if (this.lastBreakMs !== undefined && sentMs >= this.lastBreakMs) {
      this.lastBreakMs = undefined;
      this.brokenAtMs = undefined;
      this.isServerGone = false;
    }
  }

  /**
   * The stream broke at `nowMs`: what it carried unanswered never counts. A break at the server's
   * shutdown (and the failed reconnects until a server answers again) does not start the grace's
   * clock: no coordinator is left to remove the member, and the next one starts without it.
   */
  streamLost(nowMs: number, isShutdown = false): void {
    this.unansweredSentMs.length = 0;
    this.lastBreakMs = nowMs;
    if (isShutdown) this.isServerGone = true;
    if (!this.isServerGone) this.brokenAtMs ??= nowMs;
  }

  /**
   * A new membership (after losing the partitions): nothing answered before counts for it. The
   * heartbeats on their way stay counted: their answers still arrive, in order.
   */
  reset(): void {
    this.lastAnsweredSentMs = undefined;
  }

  /** Whether the stream broke and no heartbeat sent since has been answered. */
  get isStreamBroken(): boolean {
    return this.lastBreakMs !== undefined;
  }

  /**
   * Whether the coordinator may have removed the member by `nowMs` (false before any answer). With
   * `brokenStreamMs`, also once the stream has been broken that long without a heartbeat answered
   * on a new one: the coordinator removes a dynamic member whose stream it saw break after its grace,
   * whatever the session timeout says.
   */
  isExpired(nowMs: number, sessionTimeoutMs: number, brokenStreamMs?: number): boolean {
    if (brokenStreamMs !== undefined && this.brokenAtMs !== undefined && nowMs - this.brokenAtMs >= brokenStreamMs) return true;
    return this.lastAnsweredSentMs !== undefined && nowMs - this.lastAnsweredSentMs >= sessionTimeoutMs;
  }

  /** Milliseconds since the send time of the last answered heartbeat, if any. */
  sinceAnsweredMs(nowMs: number): number | undefined {
    return this.lastAnsweredSentMs === undefined ? undefined : nowMs - this.lastAnsweredSentMs;
  }
}
