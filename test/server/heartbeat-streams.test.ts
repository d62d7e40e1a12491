import { describe, expect, it } from 'vitest';
import { MAX_UNREAD_HEARTBEAT_ANSWERS } from '../../src/core/limits.js';
import { HeartbeatStreams } from '../../src/server/group-service.js';

/** The part of a grpc-js server stream that a push looks at; writableLength counts messages (object mode). */
function fakeCall(writableLength: number, writable = true) {
  const written: unknown[] = [];
  return { written, call: { cancelled: false, writable, writableLength, write: (m: unknown) => written.push(m) } };
}

const response = (memberId: string) => ({ memberId, memberEpoch: 3, heartbeatIntervalMs: 1_000, assignment: [], offsetsEpoch: 0 });

describe('HeartbeatStreams.push', () => {
  it('skips a push once MAX_UNREAD_HEARTBEAT_ANSWERS answers wait unread, and to an ended stream', () => {
    const streams = new HeartbeatStreams();
    const reading = fakeCall(MAX_UNREAD_HEARTBEAT_ANSWERS - 1);
    const full = fakeCall(MAX_UNREAD_HEARTBEAT_ANSWERS);
    const ended = fakeCall(0, false);
    type Call = Parameters<HeartbeatStreams['attach']>[1];
    streams.attach('reading', reading.call as unknown as Call);
    streams.attach('full', full.call as unknown as Call);
    streams.attach('ended', ended.call as unknown as Call);
    for (const memberId of ['reading', 'full', 'ended']) streams.push(response(memberId));
    expect(reading.written).toHaveLength(1);
    expect(full.written).toEqual([]);
    expect(ended.written).toEqual([]);
  });
});
