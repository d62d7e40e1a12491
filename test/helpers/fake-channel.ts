import * as grpc from '@grpc/grpc-js';
import { systemClock, type Clock } from '../../src/core/clock.js';
import { ConnectionMonitor, type WatchedChannel } from '../../src/client/connection-monitor.js';

/** A channel whose connectivity state the test sets; watchers are called back as grpc-js does. */
export class FakeChannel implements WatchedChannel {
  connectRequests = 0;
  private watchers: Array<{ state: grpc.connectivityState; callback: () => void }> = [];

  constructor(private state: grpc.connectivityState = grpc.connectivityState.IDLE) {}

  getConnectivityState(tryToConnect: boolean): grpc.connectivityState {
    if (tryToConnect) this.connectRequests++;
    return this.state;
  }

  watchConnectivityState(currentState: grpc.connectivityState, _deadline: grpc.Deadline, callback: (error?: Error) => void): void {
    this.watchers.push({ state: currentState, callback: () => callback() });
  }

  set(state: grpc.connectivityState): void {
    this.state = state;
    const due = this.watchers.filter((w) => w.state !== state);
    this.watchers = this.watchers.filter((w) => w.state === state);
    for (const watcher of due) watcher.callback();
  }
}

/** What a fake StrataClient needs for a Producer: a connection that is READY, and a clock. */
export function readyConnection(clock: Clock = systemClock): { connection: ConnectionMonitor; clock: Clock } {
  return { connection: new ConnectionMonitor(new FakeChannel(grpc.connectivityState.READY), 'fake:0', clock), clock };
}
