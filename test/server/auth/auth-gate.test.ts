import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { AclAuthorizer, type AclRule, type AclRuleSource } from '../../../src/acls/acl-rules.js';
import { AuthGate, PRINCIPAL_METADATA_KEY, principalOf, refusalOf } from '../../../src/server/auth/auth-gate.js';
import { MAX_DECISIONS_PER_CALL } from '../../../src/server/auth/kept-decisions.js';
import { Authenticator } from '../../../src/server/auth/authenticator.js';
import { hashToken, StaticTokens } from '../../../src/server/auth/static-tokens.js';
import { capturingLogger, type LogLine } from '../../helpers/capturing-logger.js';

type CallInterface = grpc.ServerInterceptingCallInterface;
type Listener = Parameters<CallInterface['start']>[0];
type PartialStatusObject = Parameters<CallInterface['sendStatus']>[0];
type AuthContext = ReturnType<CallInterface['getAuthContext']>;
type ConnectionInfo = ReturnType<CallInterface['getConnectionInfo']>;

const PRODUCE = '/strata.v1.ProduceService/Produce';

/** The call grpc-js hands the outermost interceptor, as far as the gate uses it: what reached the handler, and what was answered. */
class FakeCall implements CallInterface {
  listener: Listener | undefined;
  readonly passedMessages: unknown[] = [];
  readonly sentMessages: unknown[] = [];
  metadata: grpc.Metadata | undefined;
  status: PartialStatusObject | undefined;

  start(listener: Listener): void {
    this.listener = listener;
  }
  sendMetadata(): void {}
  sendMessage(message: unknown, callback: () => void): void {
    this.sentMessages.push(message);
    callback();
  }
  sendStatus(status: PartialStatusObject): void {
    this.status = status;
  }
  startRead(): void {}
  getPeer(): string {
    return '127.0.0.1:5000';
  }
  getDeadline(): grpc.Deadline {
    return Infinity;
  }
  getHost(): string {
    return 'localhost';
  }
  getAuthContext(): AuthContext {
    return { transportSecurityType: 'insecure' } as AuthContext;
  }
  getConnectionInfo(): ConnectionInfo {
    return { remoteAddress: '127.0.0.1', remotePort: 5000, localAddress: '127.0.0.1', localPort: 9092 };
  }
  getMetricsRecorder(): ReturnType<CallInterface['getMetricsRecorder']> {
    throw new Error('not used');
  }
}

/** Runs `path` through the gate as grpc-js would: start, then the metadata, then each message. */
function callThrough(gate: AuthGate, path: string, call: FakeCall, metadata = new grpc.Metadata()) {
  const outer = gate.interceptor({ path, requestStream: true, responseStream: true } as grpc.ServerMethodDefinition<unknown, unknown>, call);
  outer.start({
    onReceiveMetadata: (received) => (call.metadata = received),
    onReceiveMessage: (message) => call.passedMessages.push(message),
    onReceiveHalfClose: () => undefined,
    onCancel: () => undefined,
  });
  call.listener!.onReceiveMetadata(metadata);
  return {
    outer,
    send: (message: unknown) => call.listener!.onReceiveMessage(message),
  };
}

/** Rules of one principal, counting how often a decision reads them. */
class CountingRules implements AclRuleSource {
  reads = 0;
  private changes = 0;
  constructor(private list: AclRule[]) {}
  rules(): readonly AclRule[] {
    this.reads++;
    return this.list;
  }
  generation(): number {
    return this.changes;
  }
  replace(list: AclRule[]): void {
    this.list = list;
    this.changes++;
  }
}

const writeRule = (resourceName: string, permission: 'allow' | 'deny' = 'allow'): AclRule => ({ principal: 'bob', resourceType: 'topic', patternType: 'prefix', resourceName, operation: 'write', permission });
const withToken = (token: string) => {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
};
/** The promise of authentication settles in a microtask. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('AuthGate without authentication', () => {
  const lines: LogLine[] = [];
  const gate = new AuthGate(new Authenticator({ isMutualTls: false }), new AclAuthorizer({ rules: () => [] }, { isEnabled: false, superUsers: [] }), capturingLogger(lines, 'info'));

  it('does not intercept a call it has nothing to do for: produce and replay streams, lists, health and unknown methods get the call grpc-js gave', () => {
    for (const path of [PRODUCE, '/strata.v1.ConsumeService/Subscribe', '/strata.v1.AdminService/ListTopics', '/grpc.health.v1.Health/Check', '/strata.v1.Nothing/Here']) {
      const call = new FakeCall();
      expect(gate.interceptor({ path } as grpc.ServerMethodDefinition<unknown, unknown>, call), path).toBe(call);
    }
    // A method without a row is still named once in the log (it would be refused with authentication on).
    expect(lines.filter((line) => line.method === '/strata.v1.Nothing/Here').length).toBe(1);
  });

  it('intercepts the admin actions, for their audit line (principal ANONYMOUS)', () => {
    const call = new FakeCall();
    const { outer, send } = callThrough(gate, '/strata.v1.AdminService/DeleteTopic', call);
    expect(outer).not.toBe(call);
    send({ topic: 'orders' });
    outer.sendStatus({ code: grpc.status.OK, details: '' });
    expect(call.passedMessages).toEqual([{ topic: 'orders' }]);
    expect(lines.find((line) => line.audit === 'admin' && line.method === '/strata.v1.AdminService/DeleteTopic')).toMatchObject({ principal: 'ANONYMOUS', resources: ['topic:orders:delete'], outcome: 'done' });
  });

  it('gives a handler no principal a client names: a call it never intercepted is ANONYMOUS', () => {
    const metadata = new grpc.Metadata();
    metadata.set(PRINCIPAL_METADATA_KEY, 'root');
    expect(principalOf({ metadata })).toBe('ANONYMOUS');
  });
});

describe('AuthGate with authentication', () => {
  const tokens = new StaticTokens([
    { principal: 'bob', sha256: hashToken('bob-token') },
    { principal: 'root', sha256: hashToken('root-token') },
  ]);
  const authenticator = new Authenticator({ staticTokens: tokens, isMutualTls: false, isLoopbackPeer: () => true });

  it('checks a produce stream\'s topic once while the rules stay the same, and again after any change: a removed allow or an added deny refuses the next request', async () => {
    const rules = new CountingRules([writeRule('sales-')]);
    const gate = new AuthGate(authenticator, new AclAuthorizer(rules, { isEnabled: true, superUsers: ['root'] }), capturingLogger([], 'info'));
    const call = new FakeCall();
    const metadata = withToken('bob-token');
    metadata.set(PRINCIPAL_METADATA_KEY, 'root');
    const { send } = callThrough(gate, PRODUCE, call, metadata);
    await settled();
    // What the client claimed under the key is replaced by the authenticated principal.
    expect(principalOf({ metadata: call.metadata! })).toBe('bob');
    expect(call.metadata!.get(PRINCIPAL_METADATA_KEY)).toEqual(['bob']);
    for (let i = 0; i < 1_000; i++) send({ topic: 'sales-eu', requestId: i });
    expect(call.passedMessages.length).toBe(1_000);
    expect(rules.reads).toBe(1);
    send({ topic: 'sales-us', requestId: 1_000 });
    expect(rules.reads).toBe(2);
    // A change (here: a deny added beside the allow) applies from the stream's next request.
    rules.replace([writeRule('sales-'), writeRule('sales-eu', 'deny')]);
    send({ topic: 'sales-us', requestId: 1_001 });
    expect(call.passedMessages.length).toBe(1_002);
    send({ topic: 'sales-eu', requestId: 1_002 });
    // A produce request fails alone: passed on marked with the refusal, which the handler answers; the stream goes on.
    expect(call.passedMessages.length).toBe(1_003);
    expect(refusalOf(call.passedMessages[1_002] as object)?.message).toMatch(/bob may not write topic 'sales-eu'/);
    expect(refusalOf(call.passedMessages[1_001] as object)).toBeUndefined();
    expect(call.status).toBeUndefined();
  });

  it('checks again after the allow is removed', async () => {
    const rules = new CountingRules([writeRule('sales-')]);
    const gate = new AuthGate(authenticator, new AclAuthorizer(rules, { isEnabled: true, superUsers: [] }), capturingLogger([], 'info'));
    const call = new FakeCall();
    const { send } = callThrough(gate, PRODUCE, call, withToken('bob-token'));
    await settled();
    send({ topic: 'sales-eu' });
    rules.replace([]);
    send({ topic: 'sales-eu' });
    expect(call.passedMessages.length).toBe(2);
    expect(refusalOf(call.passedMessages[1] as object)?.code).toBe('PERMISSION_DENIED');
    // Elsewhere a denied request ends the call.
    const subscribe = new FakeCall();
    const { send: sendSubscribe } = callThrough(gate, '/strata.v1.ConsumeService/Subscribe', subscribe, withToken('bob-token'));
    await settled();
    sendSubscribe({ topic: 'sales-eu' });
    expect(subscribe.passedMessages.length).toBe(0);
    expect(subscribe.status?.code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it(`keeps at most ${MAX_DECISIONS_PER_CALL} decisions per call: a stream over many topics starts again from none`, async () => {
    const rules = new CountingRules([writeRule('')]);
    const gate = new AuthGate(authenticator, new AclAuthorizer(rules, { isEnabled: true, superUsers: [] }), capturingLogger([], 'info'));
    const call = new FakeCall();
    const { send } = callThrough(gate, PRODUCE, call, withToken('bob-token'));
    await settled();
    for (let i = 0; i < MAX_DECISIONS_PER_CALL; i++) send({ topic: `t${i}` });
    send({ topic: 't0' });
    expect(rules.reads).toBe(MAX_DECISIONS_PER_CALL);
    send({ topic: `t${MAX_DECISIONS_PER_CALL}` });
    send({ topic: 't0' });
    expect(rules.reads).toBe(MAX_DECISIONS_PER_CALL + 2);
    expect(call.passedMessages.length).toBe(MAX_DECISIONS_PER_CALL + 3);
  });

  it('lets health through untouched, and still refuses a call without credentials before its first message', () => {
    const gate = new AuthGate(authenticator, new AclAuthorizer(new CountingRules([]), { isEnabled: true, superUsers: [] }), capturingLogger([], 'info'));
    const health = new FakeCall();
    expect(gate.interceptor({ path: '/grpc.health.v1.Health/Check' } as grpc.ServerMethodDefinition<unknown, unknown>, health)).toBe(health);
    const call = new FakeCall();
    return (async () => {
      const { send } = callThrough(gate, PRODUCE, call);
      await settled();
      send({ topic: 'sales-eu' });
      expect(call.passedMessages).toEqual([]);
      expect(call.status?.code).toBe(grpc.status.UNAUTHENTICATED);
    })();
  });
});
