import type { Broker } from '../../../broker/broker.js';
import { type TopicAdmin, topicConfigEntries } from '../../../broker/topic-admin.js';
import { GroupNotFoundError, OffsetOutOfRangeError, PartitionNotFoundError, QueueGroupNotFoundError, StrataError, TopicNotFoundError } from '../../../core/errors.js';
import type { GroupAdmin } from '../../../groups/group-admin.js';
import type { ResetTarget } from '../../../groups/offset-reset.js';
import type { QueueCoordinatorApi } from '../../../queues/queue-coordinator-api.js';
import { errorBody, HttpError, type HttpReply, type HttpRequest, type HttpServer, readJsonBody } from '../http-server.js';
import { httpPrincipalOf } from '../../auth/http-auth-guard.js';
import { CONSOLE_LIMITS } from './console-limits.js';
import { bodyInteger, choiceParam, integerParam, objectBody, paged, pageParams, stringParam } from './console-query.js';
import { deadLetterInfo, listDeadLetterTopics, redriveDeadLetters } from './dead-letters.js';
import { type BrowseStart, browseMessages } from './message-browser.js';
import type { ThroughputSampler } from './throughput-sampler.js';

export interface ConsoleApiDependencies {
  broker: Broker;
  topics: TopicAdmin;
  groups: GroupAdmin;
  queues: QueueCoordinatorApi;
  throughput: ThroughputSampler;
  nowMs: () => number;
  /** Whether actions that change state (redrive, reset offsets, delete) are allowed (server setting consoleActions). */
  areActionsEnabled: boolean;
}

/** Errors of things not there answer 404, a bad offset 400; the rest as HttpServer maps them. */
function consoleErrorReply(error: unknown): HttpReply | undefined {
  if (error instanceof TopicNotFoundError || error instanceof PartitionNotFoundError || error instanceof GroupNotFoundError || error instanceof QueueGroupNotFoundError) {
    return { status: 404, body: errorBody(error.code, error.message) };
  }
  if (error instanceof OffsetOutOfRangeError) return { status: 400, body: errorBody(error.code, error.message) };
  if (error instanceof StrataError && error.code === 'GROUP_NOT_EMPTY') return { status: 409, body: errorBody(error.code, error.message) };
  if (error instanceof StrataError && error.code === 'QUEUE_GROUP_NOT_EMPTY') return { status: 409, body: errorBody(error.code, error.message) };
  return undefined;
}

/**
 * The console's JSON API under /api/: what the pages show, from the server's own components (topic
 * admin and broker reads, group admin, the queue coordinator), never from storage directly. Reads are
 * paged and capped (CONSOLE_LIMITS); actions that change state answer 403 unless the server runs with
 * consoleActions on. Shapes are the domain's, in JSON; offsets and times are numbers (ms since the epoch).
 */
export function registerConsoleApi(http: HttpServer, deps: ConsoleApiDependencies): void {
  const requireActions = (what: string, request: HttpRequest) => {
    if (!deps.areActionsEnabled) {
      throw new HttpError(403, 'CONSOLE_ACTIONS_DISABLED', `${what} changes state, and this server's console is read-only: start it with consoleActions: true in its config file (or --console-actions) to allow it`);
    }
    refuseCrossSiteRequest(request);
  };
  http.mapErrors('/api/', consoleErrorReply);

  http.route('GET', '/api/info', () => ({
    status: 200,
    body: { areActionsEnabled: deps.areActionsEnabled, nowMs: deps.nowMs(), throughputSampleIntervalMs: deps.throughput.options.intervalMs, limits: CONSOLE_LIMITS },
  }));

  http.route('GET', '/api/topics', (request) => {
    const page = pageParams(request);
    const rows = deps.topics
      .listTopics()
      .filter((t) => request.mayDescribe('topic', t.name))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const { items, ...rest } = paged(rows, page);
    const topics = [];
    for (const { name } of items) {
      let description;
      try {
        description = deps.topics.describeTopic(name);
      } catch {
        continue; // deleted meanwhile
      }
      const live = description.partitions.filter((p) => p.status !== 'data-loss');
      topics.push({
        name,
        partitionCount: description.partitionCount,
        records: live.reduce((sum, p) => sum + Math.max(0, p.highWatermark - p.logStartOffset), 0),
        endOffsetSum: live.reduce((sum, p) => sum + p.highWatermark, 0),
        sizeBytes: description.partitions.reduce((sum, p) => sum + p.sizeBytes, 0),
        partitionsNotOnline: description.partitions.filter((p) => p.status !== 'online').length,
        throughput: deps.throughput.series(name),
      });
    }
    return { status: 200, body: { ...rest, items: topics } };
  });

  http.route('GET', '/api/topics/:topic', (request) => {
    const description = deps.topics.describeTopic(request.params['topic']!);
    const page = pageParams(request);
    const { items, ...rest } = paged(description.partitions, page);
    return {
      status: 200,
      body: {
        name: description.name,
        partitionCount: description.partitionCount,
        config: topicConfigEntries(description.config),
        configOverrides: description.configOverrides,
        partitions: { ...rest, items },
        throughput: deps.throughput.series(description.name),
      },
    };
  });

  http.route('DELETE', '/api/topics/:topic', async (request) => {
    requireActions('deleting a topic', request);
    await deps.topics.deleteTopic(request.params['topic']!);
    return { status: 200, body: { deleted: request.params['topic'] } };
  });

  http.route('GET', '/api/topics/:topic/messages', async (request) => {
    const offset = integerParam(request, 'offset', { min: 0 });
    const timestampMs = integerParam(request, 'timestampMs', { min: 0 });
    const from = choiceParam(request, 'from', ['earliest', 'latest'] as const);
    if ([offset, timestampMs, from].filter((v) => v !== undefined).length > 1) throw new HttpError(400, 'BAD_REQUEST', 'give one of offset, timestampMs and from');
    const start: BrowseStart = offset !== undefined ? { offset } : timestampMs !== undefined ? { timestampMs } : { point: from ?? 'latest' };
    const result = await browseMessages(deps.broker, deps.topics, {
      topic: request.params['topic']!,
      partition: integerParam(request, 'partition', { min: 0 }),
      start,
      key: stringParam(request, 'key'),
      limit: integerParam(request, 'limit', { min: 1, max: CONSOLE_LIMITS.maxMessageCount }) ?? CONSOLE_LIMITS.defaultMessageCount,
      maxBytes: integerParam(request, 'maxBytes', { min: 1, max: CONSOLE_LIMITS.maxMessageBytes }) ?? CONSOLE_LIMITS.defaultMessageBytes,
      annotate: undefined,
    });
    return { status: 200, body: result };
  });

  http.route('GET', '/api/groups', async (request) => {
    const { items, ...rest } = paged(deps.groups.listGroups().filter((g) => request.mayDescribe('group', g.groupId)), pageParams(request));
    const groups = [];
    for (const summary of items) {
      // Lag summed for the page's groups only: a describe reads a record per partition.
      const description = await deps.groups.describeGroup(summary.groupId).catch(() => undefined);
      groups.push({ ...summary, lagRecords: description?.lag.reduce((sum, l) => sum + l.lagRecords, 0) ?? 0, topics: [...new Set(description?.lag.map((l) => l.topic) ?? [])] });
    }
    return { status: 200, body: { ...rest, items: groups } };
  });

  http.route('GET', '/api/groups/:group', async (request) => {
    const { lag, ...description } = await deps.groups.describeGroup(request.params['group']!);
    const { items, ...rest } = paged(lag, pageParams(request));
    return { status: 200, body: { ...description, lag: { ...rest, items }, lagRecords: lag.reduce((sum, l) => sum + l.lagRecords, 0), nowMs: deps.nowMs() } };
  });

  http.route('POST', '/api/groups/:group/reset-offsets', async (request) => {
    requireActions('resetting offsets', request);
    const body = objectBody(await readJsonBody(request.raw, 64 * 1024));
    const topic = body['topic'];
    if (typeof topic !== 'string' || topic === '') throw new HttpError(400, 'BAD_REQUEST', 'topic is required');
    // As gRPC's ResetOffsets: alter on the group (the guard) and describe on the topic, named in the body.
    if (!request.mayDescribe('topic', topic)) throw new HttpError(403, 'PERMISSION_DENIED', `${httpPrincipalOf(request.raw) ?? 'this principal'} may not describe topic '${topic}'`);
    const partitions = body['partitions'] ?? [];
    if (!Array.isArray(partitions) || !partitions.every((p) => Number.isSafeInteger(p) && (p as number) >= 0)) throw new HttpError(400, 'BAD_REQUEST', 'partitions must be a list of partition numbers');
    const result = await deps.groups.resetOffsets({
      groupId: request.params['group']!,
      topic,
      partitions: partitions as number[],
      target: resetTarget(body),
      execute: body['execute'] === true,
      // The authenticated principal when the server has authentication; else just where it came from.
      requestedBy: httpPrincipalOf(request.raw) ?? 'console',
    });
    return { status: 200, body: result };
  });

  http.route('DELETE', '/api/groups/:group', async (request) => {
    requireActions('deleting a group', request);
    await deps.groups.deleteGroup(request.params['group']!);
    return { status: 200, body: { deleted: request.params['group'] } };
  });

  http.route('GET', '/api/queue-groups', async (request) => {
    const { items, ...rest } = paged(deps.queues.listGroups().filter((g) => request.mayDescribe('queue_group', g.groupId)), pageParams(request));
    const groups = [];
    for (const summary of items) {
      const description = await deps.queues.describeGroup(summary.groupId).catch(() => undefined); // deleted meanwhile
      if (description) groups.push({ ...summary, total: description.total, deadLetterTopics: [...new Set(description.partitions.map((p) => p.deadLetterTopic))] });
    }
    return { status: 200, body: { ...rest, items: groups } };
  });

  http.route('GET', '/api/queue-groups/:group', async (request) => {
    const { partitions, ...description } = await deps.queues.describeGroup(request.params['group']!);
    const { items, ...rest } = paged(partitions, pageParams(request));
    return { status: 200, body: { ...description, partitions: { ...rest, items }, deadLetterTopics: [...new Set(partitions.map((p) => p.deadLetterTopic))], nowMs: deps.nowMs() } };
  });

  http.route('DELETE', '/api/queue-groups/:group', async (request) => {
    requireActions('deleting a queue group', request);
    await deps.queues.deleteGroup(request.params['group']!);
    return { status: 200, body: { deleted: request.params['group'] } };
  });

  http.route('GET', '/api/dead-letters', async (request) => {
    const rows = (await listDeadLetterTopics(deps.topics, deps.queues)).filter((row) => request.mayDescribe('topic', row.topic));
    return { status: 200, body: paged(rows, pageParams(request)) };
  });

  http.route('GET', '/api/dead-letters/:topic', async (request) => {
    const result = await browseMessages(deps.broker, deps.topics, {
      topic: request.params['topic']!,
      partition: integerParam(request, 'partition', { min: 0 }),
      start: integerParam(request, 'offset', { min: 0 }) !== undefined ? { offset: integerParam(request, 'offset', { min: 0 })! } : { point: 'earliest' },
      key: undefined,
      limit: integerParam(request, 'limit', { min: 1, max: CONSOLE_LIMITS.maxMessageCount }) ?? CONSOLE_LIMITS.defaultMessageCount,
      maxBytes: CONSOLE_LIMITS.defaultMessageBytes,
      annotate: (record) => ({ deadLetter: deadLetterInfo(record.headers) }),
    });
    return { status: 200, body: result };
  });

  http.route('POST', '/api/dead-letters/:topic/redrive', async (request) => {
    requireActions('redriving dead letters', request);
    const body = objectBody(await readJsonBody(request.raw, 64 * 1024));
    const fromOffsets = new Map<number, number>();
    const given = body['fromOffsets'] ?? [];
    if (!Array.isArray(given)) throw new HttpError(400, 'BAD_REQUEST', 'fromOffsets must be a list of { partition, offset }');
    for (const entry of given) {
      const item = objectBody(entry);
      fromOffsets.set(bodyInteger(item, 'partition', { min: 0 }) ?? 0, bodyInteger(item, 'offset', { min: 0 }) ?? 0);
    }
    const result = await redriveDeadLetters(deps.broker, deps.topics, {
      deadLetterTopic: request.params['topic']!,
      fromOffsets,
      maxRecords: bodyInteger(body, 'maxRecords', { min: 1, max: CONSOLE_LIMITS.maxRedriveRecords }) ?? CONSOLE_LIMITS.maxRedriveRecords,
    });
    return { status: 200, body: result };
  });
}

/**
 * Another web site open in the operator's browser must not be able to act through the console: a
 * cross-site form or fetch may POST text/plain without asking first (a "simple" request), so actions
 * take only application/json (which a browser sends cross-site only after a CORS preflight, which
 * this server never grants), and a request whose Origin is not this host is refused outright.
 */
function refuseCrossSiteRequest(request: HttpRequest): void {
  const origin = request.raw.headers.origin;
  if (origin !== undefined) {
    let originHost: string | undefined;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = undefined;
    }
    if (originHost !== request.raw.headers.host) throw new HttpError(403, 'CROSS_SITE_REQUEST', `a request from ${origin} may not act on this console`);
  }
  const contentType = request.raw.headers['content-type'] ?? '';
  if (request.method === 'POST' && !/^application\/json\s*(;|$)/i.test(contentType)) {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'actions take a JSON body: content-type application/json');
  }
}

function resetTarget(body: Record<string, unknown>): ResetTarget {
  const to = body['to'];
  if (to === 'earliest' || to === 'latest') return { point: to };
  if (typeof to === 'object' && to !== null) {
    const target = to as Record<string, unknown>;
    const offset = bodyInteger(target, 'offset', { min: 0 });
    if (offset !== undefined) return { offset };
    const timestampMs = bodyInteger(target, 'timestampMs', { min: 0 });
    if (timestampMs !== undefined) return { timestampMs };
  }
  const shiftBy = body['shiftBy'];
  if (typeof shiftBy === 'number' && Number.isSafeInteger(shiftBy)) return { shiftBy };
  throw new HttpError(400, 'BAD_REQUEST', "a reset needs to: 'earliest', 'latest', { offset } or { timestampMs }, or shiftBy");
}
