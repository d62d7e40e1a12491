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
    type Call = Parameters<HeartbeatStreams['attach']>[2];
    streams.attach('g', 'reading', reading.call as unknown as Call);
    streams.attach('g', 'full', full.call as unknown as Call);
    streams.attach('g', 'ended', ended.call as unknown as Call);
    for (const memberId of ['reading', 'full', 'ended']) streams.push(response(memberId));
    expect(reading.written).toHaveLength(1);
    expect(full.written).toEqual([]);
    expect(ended.written).toEqual([]);
  });

  it('reports the members a broken stream still carries as lost, not those that moved to a newer stream', () => {
    const lost: string[] = [];
    const streams = new HeartbeatStreams((groupId, memberId) => lost.push(`${groupId}/${memberId}`));
    type Call = Parameters<HeartbeatStreams['attach']>[2];
    const old = fakeCall(0).call as unknown as Call;
    const newer = fakeCall(0).call as unknown as Call;
    streams.attach('g', 'a', old);
    streams.attach('g', 'b', old);
    streams.attach('g', 'b', newer);
    streams.detach(old);
    expect(lost).toEqual(['g/a']);
  });

  it('tells a fenced member FENCED_INSTANCE_ID on its stream at once, and forgets its stream', () => {
    const lost: string[] = [];
    const streams = new HeartbeatStreams((_g, memberId) => lost.push(memberId));
    const fenced = fakeCall(0);
    type Call = Parameters<HeartbeatStreams['attach']>[2];
    streams.attach('g', 'old', fenced.call as unknown as Call);
    streams.fence('old', 'worker-1');
    expect(fenced.written).toHaveLength(1);
    expect((fenced.written[0] as { failure: { code: string; retriable: boolean } }).failure).toMatchObject({ code: 'FENCED_INSTANCE_ID', retriable: false });
    streams.detach(fenced.call as unknown as Call);
    expect(lost).toEqual([]);
  });
});
