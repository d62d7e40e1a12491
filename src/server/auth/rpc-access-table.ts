import { CLUSTER_RESOURCE_NAME, type Operation, type ResourceAccess, type ResourceType } from '../../acls/acl-rules.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- requests are the generated messages, read by field */
type Request = any;

/**
 * What one RPC needs, in one place for every method the server serves (rpc-access-table.test.ts fails
 * when a method of the loaded protocol is missing):
 * - `accesses(request)`: the (resource type, name, operation) each request message needs. Called on
 *   every request message, so a stream is checked per message (a produce stream may write to several
 *   topics); a message that names no resource (a queue session's answers) needs none beyond the
 *   stream's authentication.
 * - `listFilter`: a list answer is cut to what the principal may describe (as Kafka's metadata), so
 *   a list never tells what exists beyond that.
 * - `audit`: an admin action, logged with its principal at info level whether it succeeds or not.
 * - `isOpen`: no credentials needed (health checks, which load balancers and probes make).
 */
export interface RpcAccess {
  accesses(request: Request): ResourceAccess[];
  listFilter?: { field: string; resourceType: ResourceType; nameOf(item: Request): string };
  audit?: boolean;
  isOpen?: boolean;
  /**
   * A denied request message fails alone instead of ending the call (the handler answers it with the
   * gate's refusal, auth-gate.ts refusalOf): a produce stream carries requests for many topics, and the
   * ones it may write must go on while a denied one fails at once.
   */
  refusesPerRequest?: boolean;
}

const on = (resourceType: ResourceType, operation: Operation) => (resourceName: string): ResourceAccess => ({ resourceType, resourceName, operation });
const cluster = (operation: Operation): ResourceAccess => ({ resourceType: 'cluster', resourceName: CLUSTER_RESOURCE_NAME, operation });
const none = (): ResourceAccess[] => [];
const names = (values: unknown): string[] => (Array.isArray(values) ? [...new Set(values.filter((v): v is string => typeof v === 'string'))] : []);

export const RPC_ACCESS_TABLE: Readonly<Record<string, RpcAccess>> = Object.freeze({
  // Topics.
  '/strata.v1.AdminService/CreateTopic': { accesses: (r) => [on('topic', 'create')(r.topic)], audit: true },
  '/strata.v1.AdminService/DeleteTopic': { accesses: (r) => [on('topic', 'delete')(r.topic)], audit: true },
  '/strata.v1.AdminService/ListTopics': { accesses: none, listFilter: { field: 'topics', resourceType: 'topic', nameOf: (t) => t.name } },
  '/strata.v1.AdminService/DescribeTopic': { accesses: (r) => [on('topic', 'describe')(r.topic)] },
  '/strata.v1.AdminService/CreatePartitions': { accesses: (r) => [on('topic', 'alter')(r.topic)], audit: true },
  '/strata.v1.AdminService/ListOffsets': { accesses: (r) => [on('topic', 'describe')(r.topic)] },
  '/strata.v1.AdminService/AlterTopicConfig': { accesses: (r) => [on('topic', 'alter')(r.topic)], audit: true },
  // Deleting records is Kafka's DeleteRecords: delete on the topic.
  '/strata.v1.AdminService/PurgeRecords': { accesses: (r) => [on('topic', 'delete')(r.topic)], audit: true },
  // Groups, as an operator sees them.
  '/strata.v1.AdminService/ListGroups': { accesses: none, listFilter: { field: 'groups', resourceType: 'group', nameOf: (g) => g.groupId } },
  '/strata.v1.AdminService/DescribeGroup': { accesses: (r) => [on('group', 'describe')(r.groupId)] },
  '/strata.v1.AdminService/DeleteGroup': { accesses: (r) => [on('group', 'delete')(r.groupId)], audit: true },
  // Moving a group's offsets is an operator's change to the group; the topic must be visible to them.
  '/strata.v1.AdminService/ResetOffsets': { accesses: (r) => [on('group', 'alter')(r.groupId), on('topic', 'describe')(r.topic)], audit: true },
  // Produce and read.
  '/strata.v1.ProduceService/Produce': { accesses: (r) => [on('topic', 'write')(r.topic)], refusesPerRequest: true },
  // An unnamed producer id names no resource: what it writes is checked per topic on Produce. A name is
  // one (Kafka's transactional id): taking it fences the name's other instances, so it needs write on it.
  '/strata.v1.ProduceService/InitProducer': { accesses: (r) => (typeof r.producerName === 'string' && r.producerName !== '' ? [on('producer', 'write')(r.producerName)] : []) },
  '/strata.v1.ConsumeService/Subscribe': { accesses: (r) => [on('topic', 'read')(r.topic)] },
  '/strata.v1.ConsumeService/Fetch': { accesses: (r) => [on('topic', 'read')(r.topic)] },
  // Members (Kafka: group read; topics describe to subscribe, read to commit).
  '/strata.v1.GroupService/GroupHeartbeat': { accesses: (r) => [on('group', 'read')(r.groupId), ...names(r.topics).map(on('topic', 'describe'))] },
  '/strata.v1.GroupService/CommitOffsets': { accesses: (r) => [on('group', 'read')(r.groupId), ...names((r.topics ?? []).map((t: Request) => t.topic)).map(on('topic', 'read'))] },
  '/strata.v1.GroupService/FetchOffsets': { accesses: (r) => [on('group', 'describe')(r.groupId), ...names(r.topics).map(on('topic', 'describe'))] },
  // Queue groups: a join names the group and its topics; answers and lock extensions belong to the joined session.
  '/strata.v1.QueueService/QueueSession': { accesses: (r) => (r.join ? [on('queue_group', 'read')(r.join.groupId), ...names(r.join.topics).map(on('topic', 'read'))] : []) },
  '/strata.v1.QueueService/ListQueueGroups': { accesses: none, listFilter: { field: 'groups', resourceType: 'queue_group', nameOf: (g) => g.groupId } },
  '/strata.v1.QueueService/DescribeQueueGroup': { accesses: (r) => [on('queue_group', 'describe')(r.groupId)] },
  '/strata.v1.QueueService/AlterQueueGroupConfig': { accesses: (r) => [on('queue_group', 'alter')(r.groupId)], audit: true },
  '/strata.v1.QueueService/ResetQueueGroup': { accesses: (r) => [on('queue_group', 'alter')(r.groupId), on('topic', 'describe')(r.topic)], audit: true },
  '/strata.v1.QueueService/DeleteQueueGroup': { accesses: (r) => [on('queue_group', 'delete')(r.groupId)], audit: true },
  // ACLs are the cluster's.
  '/strata.v1.AclService/AddAcl': { accesses: () => [cluster('alter')], audit: true },
  '/strata.v1.AclService/RemoveAcl': { accesses: () => [cluster('alter')], audit: true },
  '/strata.v1.AclService/ListAcls': { accesses: () => [cluster('describe')] },
  // Quotas are the cluster's too (Kafka: AlterClientQuotas and DescribeClientQuotas on the cluster).
  '/strata.v1.QuotaService/SetQuotas': { accesses: () => [cluster('alter')], audit: true },
  '/strata.v1.QuotaService/RemoveQuotas': { accesses: () => [cluster('alter')], audit: true },
  '/strata.v1.QuotaService/ListQuotas': { accesses: () => [cluster('describe')] },
  // Schemas: a subject is the resource. A schema by id is readable by any authenticated principal:
  // serializers fetch the writer's schema by the id in each record to decode it, and an id names no subject.
  '/strata.v1.SchemaService/RegisterSchema': { accesses: (r) => [on('schema_subject', 'write')(r.subject)], audit: true },
  '/strata.v1.SchemaService/GetSchemaById': { accesses: none },
  '/strata.v1.SchemaService/GetSchemaVersion': { accesses: (r) => [on('schema_subject', 'read')(r.subject)] },
  '/strata.v1.SchemaService/ListSubjects': { accesses: none, listFilter: { field: 'subjects', resourceType: 'schema_subject', nameOf: (subject) => subject } },
  '/strata.v1.SchemaService/ListSchemaVersions': { accesses: (r) => [on('schema_subject', 'describe')(r.subject)] },
  '/strata.v1.SchemaService/CheckSchemaCompatibility': { accesses: (r) => [on('schema_subject', 'read')(r.subject)] },
  '/strata.v1.SchemaService/DeleteSchemaVersion': { accesses: (r) => [on('schema_subject', 'delete')(r.subject)], audit: true },
  '/strata.v1.SchemaService/DeleteSubject': { accesses: (r) => [on('schema_subject', 'delete')(r.subject)], audit: true },
  '/strata.v1.SchemaService/GetSchemaConfig': { accesses: (r) => [r.subject ? on('schema_subject', 'describe')(r.subject) : cluster('describe')] },
  '/strata.v1.SchemaService/SetSchemaConfig': { accesses: (r) => [r.subject ? on('schema_subject', 'alter')(r.subject) : cluster('alter')], audit: true },
  // Health is open: probes and load balancers carry no credentials, and it tells nothing but "serving".
  '/grpc.health.v1.Health/Check': { accesses: none, isOpen: true },
  '/grpc.health.v1.Health/Watch': { accesses: none, isOpen: true },
  '/grpc.health.v1.Health/List': { accesses: none, isOpen: true },
  // Reflection describes the whole API: describe on the cluster.
  '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo': { accesses: () => [cluster('describe')] },
  '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo': { accesses: () => [cluster('describe')] },
});
