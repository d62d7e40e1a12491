import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);

export type HealthClient = grpc.Client & {
  check: (request: { service: string }, callback: (error: grpc.ServiceError | null, response: { status: string }) => void) => void;
  watch: (request: { service: string }) => grpc.ClientReadableStream<{ status: string }>;
};

export type ReflectionClient = grpc.Client & {
  serverReflectionInfo: () => grpc.ClientDuplexStream<object, { listServicesResponse?: { service: Array<{ name: string }> } }>;
};

/** A client of the standard grpc.health.v1 service (its proto ships with grpc-health-check). */
export function healthClient(address: string): HealthClient {
  const path = (require('grpc-health-check') as { protoPath: string }).protoPath;
  const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(path, { enums: String })) as unknown as {
    grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthClient } } };
  };
  return new loaded.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
}

/** A client of server reflection v1 (its proto ships with @grpc/reflection). */
export function reflectionClient(address: string): ReflectionClient {
  const path = require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
  const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(path)) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: new (address: string, credentials: grpc.ChannelCredentials) => ReflectionClient } } };
  };
  return new loaded.grpc.reflection.v1.ServerReflection(address, grpc.credentials.createInsecure());
}
