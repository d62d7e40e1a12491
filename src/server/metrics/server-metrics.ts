import * as grpc from '@grpc/grpc-js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../../core/clock.js';
import { NO_SOURCES, type MetricsSources } from './metrics-sources.js';
import { ScrapeGauges } from './scrape-gauges.js';
import { ThrottleMetrics } from './throttle-metrics.js';

/** The label of a failed produce to a topic that does not exist: a client may name any number of those. */
export const UNKNOWN_TOPIC_LABEL = '(unknown)';

/** The streaming methods by path, as `strata_streams_active{kind}` names them. */
const STREAM_KINDS: Readonly<Record<string, string>> = {
  '/strata.v1.ProduceService/Produce': 'produce',
  '/strata.v1.ConsumeService/Subscribe': 'subscribe',
  '/strata.v1.GroupService/GroupHeartbeat': 'group_heartbeat',
  '/strata.v1.QueueService/QueueSession': 'queue_session',
  '/grpc.health.v1.Health/Watch': 'health_watch',
};
const OTHER_STREAM_KIND = 'other';

const GAUGES_NAMED_AS_COUNTERS = ['strata_nodejs_active_resources_total', 'strata_nodejs_active_handles_total', 'strata_nodejs_active_requests_total'];

const LATENCY_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

let processRegistry: Registry | undefined;

/**
 * The process's metrics (CPU, memory, heap, GC, event-loop lag: prom-client's default metrics, prefix
 * `strata_`), in one registry per process: they start an event-loop monitor and a GC observer that
 * are never stopped, so a process that starts many servers (tests) must not start them once each.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'strata_' });
    // prom-client names three gauges `*_total`, which Prometheus reserves for counters (promtool
    // check metrics refuses them); each is the sum of the same gauge without the suffix, by type.
    for (const name of GAUGES_NAMED_AS_COUNTERS) processRegistry.removeSingleMetric(name);
  }
  return processRegistry;
}

/** A topic's hot-path counts, plain numbers (a prom-client increment costs 10-20 times more); copied into the counters at scrape time. */
interface TopicCounts {
  ok: number;
  duplicate: number;
  records: number;
  bytes: number;
  fetchRecords: number;
  fetchBytes: number;
  /** Failed produce requests by error code. */
  readonly failed: Map<string, number>;
}

export interface ServerMetricsOptions {
  clock: Clock;
  /** Per-partition series one metric shows before it folds topics (partition-series-cap.ts). */
  maxPartitionSeries: number;
  /** Whether a topic exists now: a failed produce to one that does not is labelled UNKNOWN_TOPIC_LABEL. */
  topicExists: (topic: string) => boolean;
}

/**
 * The server's Prometheus metrics, in a registry of its own (not prom-client's global one, so two
 * servers in one process, as in tests, keep theirs apart). Counts on hot paths are plain numbers of
 * an object bound once per topic (a Map lookup and additions per request), copied into the counters
 * at scrape time; everything else is computed at scrape time (ScrapeGauges). Produce, fetch and errors are counted by the services
 * (produce-service.ts, consume-service.ts, status.ts); append and fsync latencies by storage through
 * its StorageObserver port; open streams by a gRPC interceptor.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly produceRequests: Counter;
  private readonly produceRecords: Counter;
  private readonly produceBytes: Counter;
  private readonly fetchRecords: Counter;
  private readonly fetchBytes: Counter;
  private readonly appendDuration: Histogram;
  private readonly fsyncDuration: Histogram;
  private readonly rebalances: Counter;
  private readonly errors: Counter;
  private readonly streamsActive: Gauge;
  private readonly subscriptionsActive: Gauge;
  private readonly scrapeGauges: ScrapeGauges;
  /** Rate-quota throttling by principal and quota (throttle-metrics.ts). */
  private readonly throttleMetrics: ThrottleMetrics;
  private readonly topics = new Map<string, TopicCounts>();
  private readonly openStreams = new Map<string, number>(Object.values(STREAM_KINDS).map((kind) => [kind, 0]));
  private sources: MetricsSources = NO_SOURCES;
  private scraping: Promise<string> | undefined;

  constructor(private readonly options: ServerMetricsOptions) {
    const registers = [this.registry];
    this.produceRequests = new Counter({ name: 'strata_produce_requests_total', help: 'Produce requests by topic and result: ok, duplicate (a retry already in the log), or the error code. Topic "(unknown)": a topic that does not exist.', labelNames: ['topic', 'result'], registers });
    this.produceRecords = new Counter({ name: 'strata_produce_records_total', help: 'Records appended by produce requests (duplicates not counted again).', labelNames: ['topic'], registers });
    this.produceBytes = new Counter({ name: 'strata_produce_bytes_total', help: 'Bytes of record batches appended by produce requests (duplicates not counted again).', labelNames: ['topic'], registers });
    this.fetchRecords = new Counter({ name: 'strata_fetch_records_total', help: 'Records sent to readers by Fetch and Subscribe, from the offset each asked for.', labelNames: ['topic'], registers });
    this.fetchBytes = new Counter({ name: 'strata_fetch_bytes_total', help: 'Bytes of record batches sent to readers by Fetch and Subscribe.', labelNames: ['topic'], registers });
    this.appendDuration = new Histogram({ name: 'strata_append_duration_seconds', help: 'Time from an append being queued in its partition to its acknowledgement at its ack level (written, or durable: fsync included).', buckets: LATENCY_BUCKETS_SECONDS, registers });
    this.fsyncDuration = new Histogram({ name: 'strata_fsync_duration_seconds', help: 'Time of one fdatasync of a log file (group commits, rolls, recovery cuts; failed ones too).', buckets: LATENCY_BUCKETS_SECONDS, registers });
    this.rebalances = new Counter({ name: 'strata_consumer_group_rebalances_total', help: 'New target assignments computed for a consumer group since the server started.', labelNames: ['group'], registers });
    this.errors = new Counter({ name: 'strata_errors_total', help: 'Failed calls and failed requests inside streams, by strata-error-code (INTERNAL: an error the server did not expect).', labelNames: ['code'], registers });
    this.streamsActive = new Gauge({ name: 'strata_streams_active', help: 'Open streaming calls by kind: produce, subscribe, group_heartbeat, queue_session, health_watch, other.', labelNames: ['kind'], registers });
    this.subscriptionsActive = new Gauge({ name: 'strata_subscriptions_active', help: 'Open Subscribe streams (each a reader of one topic\'s partitions).', registers });
    this.scrapeGauges = new ScrapeGauges(this.registry, options.maxPartitionSeries);
    this.throttleMetrics = new ThrottleMetrics(this.registry);
  }

  /** The components to read at scrape time, once they exist. */
  attach(sources: MetricsSources): void {
    this.sources = sources;
  }

  /** For LogManager.open's observer (storage's StorageObserver port). */
  readonly storageObserver = {
    onAppendAcknowledged: (durationMs: number) => this.appendDuration.observe(durationMs / 1000),
    onFsync: (durationMs: number) => this.fsyncDuration.observe(durationMs / 1000),
  };

  produced(topic: string, records: number, bytes: number, isDuplicate: boolean): void {
    const counts = this.countsOf(topic);
    if (isDuplicate) {
      counts.duplicate++;
      return;
    }
    counts.ok++;
    counts.records += records;
    counts.bytes += bytes;
  }

  produceFailed(topic: string, code: string): void {
    const counts = this.countsOf(this.topics.has(topic) || this.options.topicExists(topic) ? topic : UNKNOWN_TOPIC_LABEL);
    counts.failed.set(code, (counts.failed.get(code) ?? 0) + 1);
  }

  fetched(topic: string, records: number, bytes: number): void {
    const counts = this.countsOf(topic);
    counts.fetchRecords += records;
    counts.fetchBytes += bytes;
  }

  /** A deleted topic's series go (its counts start again from zero if it is created again). */
  forgetTopic(topic: string): void {
    this.topics.delete(topic);
  }

  onRebalance(groupId: string): void {
    this.rebalances.inc({ group: groupId });
  }

  /** For RateQuotas' observer: an answer held back `throttleTimeMs` for a rate quota. */
  readonly onThrottled = (principal: string, quota: string, throttleTimeMs: number): void => this.throttleMetrics.record(principal, quota, throttleTimeMs);

  onError(code: string): void {
    this.errors.inc({ code });
  }

  /** For `new grpc.Server({ interceptors })`, inside the admission gate: counts the streams admitted, until each ends. */
  readonly streamInterceptor: grpc.ServerInterceptor = (method, call) => {
    if (!method.requestStream && !method.responseStream) return new grpc.ServerInterceptingCall(call);
    const kind = STREAM_KINDS[method.path] ?? OTHER_STREAM_KIND;
    let isOpen = false;
    const end = () => {
      if (!isOpen) return;
      isOpen = false;
      this.openStreams.set(kind, (this.openStreams.get(kind) ?? 1) - 1);
    };
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        isOpen = true;
        this.openStreams.set(kind, (this.openStreams.get(kind) ?? 0) + 1);
        next({ onCancel: end });
      },
      sendStatus: (status, next) => {
        end();
        next(status);
      },
    });
  };

  /**
   * The exposition (Prometheus text format). Scrapes that arrive while one runs share its result: the
   * scrape-time gauges are reset and set again on every refresh, so two at once would interleave.
   */
  scrape(): Promise<string> {
    this.scraping ??= this.collect().finally(() => (this.scraping = undefined));
    return this.scraping;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private async collect(): Promise<string> {
    this.copyTopicCounts();
    this.streamsActive.reset();
    for (const [kind, count] of this.openStreams) this.streamsActive.set({ kind }, count);
    this.subscriptionsActive.set(this.openStreams.get('subscribe') ?? 0);
    const partitionText = await this.scrapeGauges.refresh(this.sources);
    // A group no longer known loses its rebalance count (bounded by the groups there are).
    const groups = new Set(this.sources.consumerGroups().map((g) => g.groupId));
    for (const { labels } of (await this.rebalances.get()).values) {
      if (!groups.has(String(labels.group))) this.rebalances.remove({ group: String(labels.group) });
    }
    return (await processMetrics().metrics()) + (await this.registry.metrics()) + partitionText;
  }

  private countsOf(topic: string): TopicCounts {
    let counts = this.topics.get(topic);
    if (!counts) this.topics.set(topic, (counts = { ok: 0, duplicate: 0, records: 0, bytes: 0, fetchRecords: 0, fetchBytes: 0, failed: new Map() }));
    return counts;
  }

  /** The hot-path counts into the counters: reset and set to the totals (monotonic while a topic lives). */
  private copyTopicCounts(): void {
    for (const counter of [this.produceRequests, this.produceRecords, this.produceBytes, this.fetchRecords, this.fetchBytes]) counter.reset();
    for (const [topic, counts] of this.topics) {
      const labels = { topic };
      if (topic !== UNKNOWN_TOPIC_LABEL) {
        this.produceRequests.inc({ topic, result: 'ok' }, counts.ok);
        this.produceRequests.inc({ topic, result: 'duplicate' }, counts.duplicate);
        this.produceRecords.inc(labels, counts.records);
        this.produceBytes.inc(labels, counts.bytes);
        this.fetchRecords.inc(labels, counts.fetchRecords);
        this.fetchBytes.inc(labels, counts.fetchBytes);
      }
      for (const [result, count] of counts.failed) this.produceRequests.inc({ topic, result }, count);
    }
  }
}
