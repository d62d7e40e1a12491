import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { loadProtocol } from '../../../src/protocol/protocol.js';
import { RPC_ACCESS_TABLE } from '../../../src/server/auth/rpc-access-table.js';

const require = createRequire(import.meta.url);

/** Every method path of every service in a package definition. */
function methodPaths(definition: protoLoader.PackageDefinition): string[] {
  const paths: string[] = [];
  for (const value of Object.values(definition)) {
    if (value && typeof value === 'object' && !('format' in value)) {
      for (const method of Object.values(value as Record<string, { path?: string }>)) if (typeof method.path === 'string') paths.push(method.path);
    }
  }
  return paths;
}

function libraryProto(packageName: string, relativePath: string): protoLoader.PackageDefinition {
  const root = dirname(require.resolve(`${packageName}/package.json`));
  return protoLoader.loadSync(join(root, relativePath), { keepCase: true });
}

describe('the access table', () => {
  const served = [
    ...methodPaths(loadProtocol().packageDefinition),
    ...methodPaths(libraryProto('grpc-health-check', 'proto/health/v1/health.proto')),
    ...methodPaths(libraryProto('@grpc/reflection', 'build/proto/grpc/reflection/v1/reflection.proto')),
    ...methodPaths(libraryProto('@grpc/reflection', 'build/proto/grpc/reflection/v1alpha/reflection.proto')),
  ];

  it('has a row for every method of every service the server loads (Strata, health, reflection)', () => {
    expect(served.length).toBeGreaterThan(30);
    const missing = served.filter((path) => RPC_ACCESS_TABLE[path] === undefined);
    expect(missing, 'methods without a row in src/server/auth/rpc-access-table.ts').toEqual([]);
  });

  it('has no row for a method that does not exist', () => {
    expect(Object.keys(RPC_ACCESS_TABLE).filter((path) => !served.includes(path))).toEqual([]);
  });

  it('names a resource for every Strata method except the listed few, from the request', () => {
    const emptyRequest = {};
    const withoutResource = Object.entries(RPC_ACCESS_TABLE)
      .filter(([path]) => path.startsWith('/strata.'))
      .filter(([, row]) => row.accesses(emptyRequest).length === 0)
      .map(([path]) => path);
    // Lists are cut per item; a producer id names nothing; a queue session's answers belong to its join;
    // a schema id names no subject (serializers read the writer's schema by the id in each record).
    expect(withoutResource.sort()).toEqual([
      '/strata.v1.AdminService/ListGroups',
      '/strata.v1.AdminService/ListTopics',
      '/strata.v1.ProduceService/InitProducer',
      '/strata.v1.QueueService/ListQueueGroups',
      '/strata.v1.QueueService/QueueSession',
      '/strata.v1.SchemaService/GetSchemaById',
      '/strata.v1.SchemaService/ListSubjects',
    ]);
    expect(RPC_ACCESS_TABLE['/strata.v1.QueueService/QueueSession']!.accesses({ join: { groupId: 'g', topics: ['a', 'b', 'a'] } })).toEqual([
      { resourceType: 'queue_group', resourceName: 'g', operation: 'read' },
      { resourceType: 'topic', resourceName: 'a', operation: 'read' },
      { resourceType: 'topic', resourceName: 'b', operation: 'read' },
    ]);
    expect(RPC_ACCESS_TABLE['/strata.v1.ProduceService/Produce']!.accesses({ topic: 'orders' })).toEqual([{ resourceType: 'topic', resourceName: 'orders', operation: 'write' }]);
  });

  it('opens health only, and puts reflection behind describe on the cluster', () => {
    expect(Object.entries(RPC_ACCESS_TABLE).filter(([, row]) => row.isOpen).map(([path]) => path).every((path) => path.startsWith('/grpc.health.v1.Health/'))).toBe(true);
    expect(RPC_ACCESS_TABLE['/grpc.reflection.v1.ServerReflection/ServerReflectionInfo']!.accesses({})).toEqual([{ resourceType: 'cluster', resourceName: 'strata', operation: 'describe' }]);
  });
});
