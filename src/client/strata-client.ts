import type { SchemaServiceClient } from '../generated/strata/v1/SchemaService.js';
import { SchemaAdmin } from './schema-admin.js';
import * as grpc from '@grpc/grpc-js';
import { AclAdmin } from './acl-admin.js';
import { QuotaAdmin } from './quota-admin.js';
import type { QuotaServiceClient } from '../generated/strata/v1/QuotaService.js';
import { bearerTokenInterceptor, type BearerTokenSource } from './bearer-token.js';
import type { TopicDescription__Output } from '../generated/strata/v1/TopicDescription.js';
import type { ProduceRequest } from '../generated/strata/v1/ProduceRequest.js';
import { loadProtocol, type StrataProtocol } from '../protocol/protocol.js';
import { produceRequestSerializer } from './produce-request-frames.js';
import { InvalidArgumentError } from '../core/errors.js';
import { MAX_READ_RESPONSE_BYTES } from '../core/limits.js';
import { Admin, DEFAULT_CALL_TIMEOUT_MS } from './admin.js';
import { GroupConsumer, type GroupConsumerOptions } from './group-consumer.js';
import { consume, consumeBatches, type ConsumeOptions, type ConsumedRecord } from './consume.js';
import { Producer, type ProducerOptions } from './producer.js';
import { QueueConsumer, type QueueConsumerOptions } from './queue-consumer.js';
import { systemClock, type Clock } from '../core/clock.js';
import { ConnectionMonitor } from './connection-monitor.js';
import type { ClientChannel } from './client-channel.js';
import { decodeBatches, decodeRecords, hasDeserializers, type DeserializedRecord, type RecordDeserializers } from './deserializing-records.js';
import { SerializingProducer, type ProducerSerializers } from './serializing-producer.js';
import type { HandlerContext } from './group-failure-policy.js';

export const DEFAULT_SERVER_ADDRESS = 'localhost:7070';

export interface StrataClientOptions {
  /** host:port. Default: the STRATA_SERVER environment variable, else localhost:7070. */
  address?: string;
  /**
   * TLS: `true` verifies the server against the system's root CAs; an object gives the CA to trust
   * instead (PEM) and, for mutual TLS, the client's certificate chain and key (PEM). `serverName`
   * overrides the name the server's certificate must carry (default: the address's host).
   */
  tls?: true | StrataTlsOptions;
  /**
   * A bearer token sent with every call (`authorization: Bearer TOKEN`), or a function giving the
   * current one (called per call, so a refreshed token takes over at the next call). The server
   * accepts tokens only over TLS or from its own machine. Default: the STRATA_TOKEN environment variable.
   */
  token?: BearerTokenSource;
  /** grpc-js channel credentials, for anything `tls` does not cover; wins over `tls`. */
  credentials?: grpc.ChannelCredentials;
  /** Extra grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions;
  /** Deadline of each unary call (admin, offset commits and fetches). Default 30000. */
  callTimeoutMs?: number;
  /**
   * The clock of every timer and time reading in the client: producer linger, retry backoffs,
   * request and delivery timeouts, metadata refresh, the connection deadline, a group member's
   * heartbeats, session checks and commits, consume's reconnect backoff (tests pass a ManualClock and
   * advance it). Not gRPC call deadlines: grpc-js keeps those on the real clock. Default: the system clock.
   * Durations that must not follow a wall clock step (the stall watch, consume()'s turns, the
   * producer's request and delivery timeouts, the connection deadline) read its monotonicMs().
   */
  clock?: Clock;
}

export interface StrataTlsOptions {
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
  serverName?: string;
}

export type { TopicDescription__Output as TopicDescription };

function credentialsFor(tls: StrataClientOptions['tls']): grpc.ChannelCredentials {
  if (tls === undefined) return grpc.credentials.createInsecure();
  const { ca, cert, key } = tls === true ? {} : tls;
  if ((cert === undefined) !== (key === undefined)) throw new InvalidArgumentError('tls needs both cert and key (mutual TLS), or neither');
  const bytes = (pem: Buffer | string | undefined) => (pem === undefined ? null : Buffer.isBuffer(pem) ? pem : Buffer.from(pem));
  return grpc.credentials.createSsl(bytes(ca), bytes(key), bytes(cert));
}

/**
 * One connection to a Strata server: admin calls, producers and consumers share one HTTP/2 channel.
 * `close()` closes it; producers should be closed (flushed) first.
 */
export class StrataClient implements ClientChannel {
  readonly address: string;
  readonly admin: Admin;
  /** Access control rules (the server's AclService): add, remove (each with a dry run), list. */
  readonly acls: AclAdmin;
  /** The server's schema registry (SchemaService). */
  readonly schemas: SchemaAdmin;
  /** Per-principal quotas (the server's QuotaService): set, remove (each with a dry run), list, resolve. */
  readonly quotas: QuotaAdmin;
  readonly callTimeoutMs: number;
  readonly clock: Clock;
  /** @internal the channel's connectivity, shared by producers. */
  readonly connection: ConnectionMonitor;
  /** @internal the generated stubs, shared by producers and consumers. */
  readonly stubs: ClientChannel['stubs'];
  private readonly channel: grpc.Channel;
  private readonly schemaStub: SchemaServiceClient;
  private readonly quotaStub: QuotaServiceClient;

  constructor(options: StrataClientOptions = {}) {
    this.address = options.address ?? process.env.STRATA_SERVER ?? DEFAULT_SERVER_ADDRESS;
    const credentials = options.credentials ?? credentialsFor(options.tls);
    const serverName = options.tls !== undefined && options.tls !== true ? options.tls.serverName : undefined;
    const channelOptions: grpc.ChannelOptions = {
      'grpc.max_receive_message_length': MAX_READ_RESPONSE_BYTES,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      // A larger HTTP/2 window lets one subscription stream run at disk speed (see PERFORMANCE.md).
      'grpc-node.flow_control_window': 8 * 1024 * 1024,
      // A connection of its own: grpc-js would otherwise share one among every client of the same
      // address in the process, and past the server's streams per connection (maxConcurrentStreams)
      // new calls wait silently for a stream to end.
      'grpc.use_local_subchannel_pool': 1,
      // Reconnect as Kafka's clients do (reconnect.backoff.max.ms 1000), not after up to 120 s (grpc's
      // default): a call made while the channel is in TRANSIENT_FAILURE fails at once, so a server back
      // from a restart is found within a second, not minutes later.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
      ...(serverName !== undefined ? { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName } : {}),
      ...options.channelOptions,
    };
    this.channel = new grpc.Channel(this.address, credentials, channelOptions);
    this.clock = options.clock ?? systemClock;
    this.connection = new ConnectionMonitor(this.channel, this.address, this.clock);
    const v1 = loadProtocol().protocol.strata.v1;
    const token = options.token ?? (process.env.STRATA_TOKEN || undefined);
    const shared = { channelOverride: this.channel, ...(token !== undefined ? { interceptors: [bearerTokenInterceptor(token)] } : {}) };
    this.stubs = {
      admin: new v1.AdminService(this.address, credentials, shared),
      produce: new (produceClientConstructor(v1.ProduceService))(this.address, credentials, shared),
      consume: new v1.ConsumeService(this.address, credentials, shared),
      groups: new v1.GroupService(this.address, credentials, shared),
      queue: new v1.QueueService(this.address, credentials, shared),
    };
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    if (!(this.callTimeoutMs > 0)) throw new InvalidArgumentError('callTimeoutMs must be positive');
    this.admin = new Admin(this.stubs.admin, this.callTimeoutMs, this.stubs.queue);
    this.acls = new AclAdmin(new v1.AclService(this.address, credentials, shared), this.callTimeoutMs);
    this.schemaStub = new v1.SchemaService(this.address, credentials, shared);
    this.schemas = new SchemaAdmin(this.schemaStub, this.callTimeoutMs);
    this.quotaStub = new v1.QuotaService(this.address, credentials, shared);
    this.quotas = new QuotaAdmin(this.quotaStub, this.callTimeoutMs);
  }

  /**
   * With `keySerializer` / `valueSerializer` (schemaSerializer(...)), a SerializingProducer: keys and
   * values are serialized before the producer takes them; without, the Producer itself, unchanged.
   */
  producer<K = Buffer | string, V = Buffer | string>(options: ProducerOptions & ProducerSerializers<K, V> & ({ keySerializer: ProducerSerializers<K, V>['keySerializer'] & object } | { valueSerializer: ProducerSerializers<K, V>['valueSerializer'] & object })): SerializingProducer<K, V>;
  producer(options?: ProducerOptions): Producer;
  producer<K, V>(options: ProducerOptions & ProducerSerializers<K, V> = {}): Producer | SerializingProducer<K, V> {
    const { keySerializer, valueSerializer, ...producerOptions } = options;
    if (keySerializer === undefined && valueSerializer === undefined) return new Producer(this, producerOptions);
    return new SerializingProducer(new Producer(this, producerOptions), { ...(keySerializer ? { keySerializer } : {}), ...(valueSerializer ? { valueSerializer } : {}) });
  }

  /**
   * A member of a consumer group: partitions assigned by the server, offsets committed as it goes.
   * With `keyDeserializer` / `valueDeserializer`, its records come deserialized (DeserializedRecord).
   */
  consumer<K = Buffer, V = Buffer>(options: GroupConsumerOptions & DeserializerOptions<K, V>): DecodingGroupConsumer<K, V>;
  consumer(options: GroupConsumerOptions): GroupConsumer;
  consumer(options: GroupConsumerOptions): GroupConsumer {
    return new GroupConsumer(this, options);
  }

  /**
   * A member of a queue group: records handed out one by one under a lock, each answered on its own
   * (ack, release, reject); see QueueConsumer.
   */
  queue(options: QueueConsumerOptions): QueueConsumer {
    return new QueueConsumer(this, options);
  }

  /** Records of a topic, in offset order per partition; see ConsumeOptions. */
  consume<K = Buffer, V = Buffer>(topic: string, options: ConsumeOptions & DeserializerOptions<K, V>): AsyncIterable<DeserializedRecord<K, V>>;
  consume(topic: string, options?: ConsumeOptions): AsyncIterable<ConsumedRecord>;
  consume(topic: string, options: ConsumeOptions & RecordDeserializers<unknown, unknown> = {}): AsyncIterable<ConsumedRecord | DeserializedRecord<unknown, unknown>> {
    // Without deserializers, the raw iterator as it was: no wrapper, no cost.
    return hasDeserializers(options) ? decodeRecords(consume(this, topic, options), options) : consume(this, topic, options);
  }

  /** The same records as consume(), an array per server response: one await per response, not per record. */
  consumeBatches<K = Buffer, V = Buffer>(topic: string, options: ConsumeOptions & DeserializerOptions<K, V>): AsyncIterable<Array<DeserializedRecord<K, V>>>;
  consumeBatches(topic: string, options?: ConsumeOptions): AsyncIterable<ConsumedRecord[]>;
  consumeBatches(topic: string, options: ConsumeOptions & RecordDeserializers<unknown, unknown> = {}): AsyncIterable<ConsumedRecord[] | Array<DeserializedRecord<unknown, unknown>>> {
    return hasDeserializers(options) ? decodeBatches(consumeBatches(this, topic, options), options) : consumeBatches(this, topic, options);
  }

  close(): void {
    this.stubs.admin.close();
    this.stubs.produce.close();
    this.stubs.consume.close();
    this.stubs.groups.close();
    this.stubs.queue.close();
    this.schemaStub.close();
    this.quotaStub.close();
    this.channel.close();
  }
}

/** At least one of keyDeserializer and valueDeserializer (the overloads that hand out DeserializedRecord). */
export type DeserializerOptions<K, V> = RecordDeserializers<K, V> & ({ keyDeserializer: object } | { valueDeserializer: object });

/** A GroupConsumer with deserializers, as its records are typed: each of its ways to read hands out DeserializedRecord. */
export type DecodingGroupConsumer<K, V> = Omit<GroupConsumer, 'process' | 'batches' | typeof Symbol.asyncIterator> &
  AsyncIterable<DeserializedRecord<K, V>> & {
    process(handler: (record: DeserializedRecord<K, V>, context: HandlerContext) => void | Promise<void>, options?: { signal?: AbortSignal }): Promise<void>;
    batches(maxRecords?: number): AsyncGenerator<Array<DeserializedRecord<K, V>>>;
  };

/**
 * The generated ProduceService client with the Produce method's request serializer replaced by one that
 * writes into reused buffers (produce-request-frames.ts says why); it decodes to the same request.
 */
function produceClientConstructor(generated: StrataProtocol['strata']['v1']['ProduceService']): StrataProtocol['strata']['v1']['ProduceService'] {
  const produce = generated.service.Produce;
  const requestSerialize = produceRequestSerializer(produce.requestSerialize as (request: ProduceRequest) => Buffer);
  return grpc.makeClientConstructor({ ...generated.service, Produce: { ...produce, requestSerialize } }, 'ProduceService') as unknown as StrataProtocol['strata']['v1']['ProduceService'];
}
