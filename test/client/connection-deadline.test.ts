import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ServerUnreachableError, StrataClientError } from '../../src/client/client-error.js';
import { ConnectionDeadline } from '../../src/client/connection-deadline.js';
import { ConnectionMonitor } from '../../src/client/connection-monitor.js';
import { ManualClock } from '../../src/core/clock.js';
import { FakeChannel } from '../helpers/fake-channel.js';

const { IDLE, CONNECTING, READY, TRANSIENT_FAILURE, SHUTDOWN } = grpc.connectivityState;

function setUp() {
  const clock = new ManualClock(1_000);
  const channel = new FakeChannel(IDLE);
  const monitor = new ConnectionMonitor(channel, 'db.example:7070', clock);
  const givenUp: ServerUnreachableError[] = [];
  const deadline = new ConnectionDeadline(monitor, { deliveryTimeoutMs: 60_000, firstConnectTimeoutMs: 5_000, clock, onUnreachable: (error) => givenUp.push(error) });
  return { clock, channel, monitor, deadline, givenUp };
}

const REFUSED = new StrataClientError('UNAVAILABLE', 'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:7070. Resolution note: ', grpc.status.UNAVAILABLE, true);

describe('ConnectionDeadline', () => {
  it('gives up on a server never reached after firstConnectTimeoutMs of trying, once, naming the last connection error', () => {
    const { clock, channel, deadline, givenUp } = setUp();
    // IDLE is not trying: no deadline runs until a call makes the channel connect.
    clock.advance(60_000);
    expect(givenUp).toHaveLength(0);
    channel.set(CONNECTING);
    channel.set(TRANSIENT_FAILURE);
    deadline.noteFailure(REFUSED);
    clock.advance(4_999);
    expect(givenUp).toHaveLength(0);
    expect(deadline.checkGivenUp()).toBeUndefined();
    clock.advance(1);
    expect(givenUp).toHaveLength(1);
    expect(givenUp[0]).toBeInstanceOf(ServerUnreachableError);
    expect(givenUp[0]!.code).toBe('SERVER_UNREACHABLE');
    expect(givenUp[0]!.message).toBe('cannot reach db.example:7070: no connection for 5000 ms (last error: connect ECONNREFUSED 127.0.0.1:7070)');
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.signal.reason).toBe(givenUp[0]);
    // While given up, a check returns the same error and asks the channel to connect (so READY is seen).
    const requestsBefore = channel.connectRequests;
    expect(deadline.checkGivenUp()).toBe(givenUp[0]);
    expect(channel.connectRequests).toBe(requestsBefore + 1);
    clock.advance(600_000);
    expect(givenUp).toHaveLength(1);
  });

  it('waits out deliveryTimeoutMs, not firstConnectTimeoutMs, once the server was reached: from the first failed reconnect', () => {
    const { clock, channel, monitor, deadline, givenUp } = setUp();
    channel.set(CONNECTING);
    channel.set(READY);
    expect(monitor.hasBeenReady).toBe(true);
    // The server goes away: the connection closes (IDLE) and is tried again when a call needs it.
    channel.set(IDLE);
    clock.advance(10_000);
    channel.set(CONNECTING);
    const sinceMs = clock.monotonicMs();
    expect(monitor.unreachableSinceMs).toBe(sinceMs);
    channel.set(TRANSIENT_FAILURE);
    clock.advance(5_000);
    expect(givenUp).toHaveLength(0);
    clock.advance(54_999);
    expect(givenUp).toHaveLength(0);
    clock.advance(1);
    expect(givenUp).toHaveLength(1);
    expect(givenUp[0]!.unreachableForMs).toBe(60_000);
    expect(deadline.signal.aborted).toBe(true);
  });

  it('counts an outage on the monotonic clock: a wall clock step during it changes neither when it gives up nor the length it reports', () => {
    const { clock, channel, deadline, givenUp } = setUp();
    channel.set(CONNECTING);
    clock.stepWallClock(3_600_000);
    // The failure re-evaluates the deadline after the step.
    channel.set(TRANSIENT_FAILURE);
    deadline.noteFailure(REFUSED);
    clock.advance(4_999);
    expect(givenUp).toHaveLength(0);
    clock.stepWallClock(-7_200_000);
    clock.advance(1);
    expect(givenUp).toHaveLength(1);
    expect(givenUp[0]!.unreachableForMs).toBe(5_000);
  });

  it('a connection made before the deadline cancels it; READY after a give-up clears it, and the next outage gets a deadline of its own', () => {
    const { clock, channel, deadline, givenUp } = setUp();
    channel.set(CONNECTING);
    clock.advance(4_000);
    channel.set(READY);
    clock.advance(60_000);
    expect(givenUp).toHaveLength(0);
    channel.set(TRANSIENT_FAILURE);
    clock.advance(60_000);
    expect(givenUp).toHaveLength(1);
    const abortedSignal = deadline.signal;
    channel.set(READY);
    expect(deadline.signal.aborted).toBe(false);
    expect(abortedSignal.aborted).toBe(true);
    expect(deadline.checkGivenUp()).toBeUndefined();
    channel.set(TRANSIENT_FAILURE);
    clock.advance(59_999);
    expect(givenUp).toHaveLength(1);
    clock.advance(1);
    expect(givenUp).toHaveLength(2);
  });

  it('close() stops the deadline; a closed channel (SHUTDOWN) is not an outage', () => {
    const { clock, channel, deadline, givenUp } = setUp();
    channel.set(CONNECTING);
    deadline.close();
    clock.advance(10_000);
    expect(givenUp).toHaveLength(0);
    const other = setUp();
    other.channel.set(CONNECTING);
    other.channel.set(SHUTDOWN);
    other.clock.advance(10_000);
    expect(other.givenUp).toHaveLength(0);
  });
});
