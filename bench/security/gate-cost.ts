/**
 * The auth gate's own cost per request message, in this process, without the transport: what a
 * produce stream's requests pay in auth-gate.ts whatever the machine's load does to the end-to-end
 * rounds. A stand-in for the call grpc-js hands the outermost interceptor receives the messages; each
 * case pushes the same produce requests (one topic) through:
 *   - `off`: a gate without authentication (it hands back the call: no layer at all);
 *   - `layer`: an empty grpc-js ServerInterceptingCall (what any interceptor costs per message);
 *   - `acl`: a gate with static tokens and `ruleCount` rules naming the principal, decisions kept per
 *     stream (one check, then a lookup per message);
 *   - `authorize`: AclAuthorizer.authorize alone over the same rules (what every message would cost
 *     without the kept decisions).
 * Cases alternate in rounds; the median ns per message of each is reported.
 */
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { AclAuthorizer, type AclRule } from '../../src/acls/acl-rules.js';
import { silentLogger } from '../../src/core/logger.js';
import { AuthGate } from '../../src/server/auth/auth-gate.js';
import { Authenticator } from '../../src/server/auth/authenticator.js';
import { hashToken, StaticTokens } from '../../src/server/auth/static-tokens.js';

type CallInterface = grpc.ServerInterceptingCallInterface;
type Listener = Parameters<CallInterface['start']>[0];

const PRODUCE: grpc.ServerMethodDefinition<unknown, unknown> = { path: '/strata.v1.ProduceService/Produce', requestStream: true, responseStream: true } as grpc.ServerMethodDefinition<unknown, unknown>;

/** Enough of grpc-js's base call for the gate: it records the listener the interceptors give it. */
class BenchCall implements CallInterface {
  listener: Listener | undefined;
  status: unknown;
  start(listener: Listener): void {
    this.listener = listener;
  }
  sendMetadata(): void {}
  sendMessage(_message: unknown, callback: () => void): void {
    callback();
  }
  sendStatus(status: unknown): void {
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
  getAuthContext(): ReturnType<CallInterface['getAuthContext']> {
    return { transportSecurityType: 'insecure' } as ReturnType<CallInterface['getAuthContext']>;
  }
  getConnectionInfo(): ReturnType<CallInterface['getConnectionInfo']> {
    return { remoteAddress: '127.0.0.1', remotePort: 5000, localAddress: '127.0.0.1', localPort: 7070 };
  }
  getMetricsRecorder(): ReturnType<CallInterface['getMetricsRecorder']> {
    throw new Error('not used');
  }
}

/** Starts a call through `intercept` with a token; returns the function that delivers one message as grpc-js would. */
async function opened(intercept: (call: BenchCall) => CallInterface, onMessage: () => void): Promise<(message: unknown) => void> {
  const base = new BenchCall();
  const outer = intercept(base);
  outer.start({ onReceiveMetadata: () => undefined, onReceiveMessage: onMessage, onReceiveHalfClose: () => undefined, onCancel: () => undefined });
  const metadata = new grpc.Metadata();
  metadata.set('authorization', 'Bearer bench-token');
  base.listener!.onReceiveMetadata(metadata);
  await new Promise((resolve) => setImmediate(resolve));
  if (base.status !== undefined) throw new Error(`the bench call was refused: ${JSON.stringify(base.status)}`);
  return (message) => base.listener!.onReceiveMessage(message);
}

export interface GateCost {
  case: 'off' | 'layer' | 'acl' | 'authorize';
  nsPerMessage: number;
}

export async function measureGateCost(rules: readonly AclRule[], options: { messages: number; rounds: number }): Promise<Map<GateCost['case'], number[]>> {
  const tokens = new StaticTokens([{ principal: 'bench', sha256: hashToken('bench-token') }]);
  const store = { rules: () => rules, generation: () => 1 };
  const off = new AuthGate(new Authenticator({ isMutualTls: false }), new AclAuthorizer(store, { isEnabled: false, superUsers: [] }), silentLogger);
  const authorizer = new AclAuthorizer(store, { isEnabled: true, superUsers: [] });
  const acl = new AuthGate(new Authenticator({ staticTokens: tokens, isMutualTls: false, isLoopbackPeer: () => true }), authorizer, silentLogger);
  let received = 0;
  const onMessage = () => {
    received++;
  };
  const sends = {
    off: await opened((call) => off.interceptor(PRODUCE, call), onMessage),
    layer: await opened((call) => new grpc.ServerInterceptingCall(call), onMessage),
    acl: await opened((call) => acl.interceptor(PRODUCE, call), onMessage),
  };
  const message = { requestId: 0, topic: 'bench-topic', partition: 0, records: Buffer.alloc(16) };
  const access = { resourceType: 'topic' as const, resourceName: 'bench-topic', operation: 'write' as const };
  const results = new Map<GateCost['case'], number[]>([['off', []], ['layer', []], ['acl', []], ['authorize', []]]);
  for (let round = 0; round < options.rounds; round++) {
    for (const name of ['off', 'layer', 'acl'] as const) {
      const send = sends[name];
      const before = received;
      const start = performance.now();
      for (let i = 0; i < options.messages; i++) send(message);
      const elapsedMs = performance.now() - start;
      if (received - before !== options.messages) throw new Error(`${name}: ${received - before} of ${options.messages} messages passed`);
      results.get(name)!.push((elapsedMs * 1e6) / options.messages);
    }
    let allowed = 0;
    const start = performance.now();
    for (let i = 0; i < options.messages; i++) if (authorizer.authorize('bench', access).isAllowed) allowed++;
    const elapsedMs = performance.now() - start;
    if (allowed !== options.messages) throw new Error('the bench principal is not allowed to write bench-topic');
    results.get('authorize')!.push((elapsedMs * 1e6) / options.messages);
  }
  return results;
}
