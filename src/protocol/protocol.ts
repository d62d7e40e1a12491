import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as AclProto } from '../generated/acl.js';
import type { ProtoGrpcType as AdminProto } from '../generated/admin.js';
import type { ProtoGrpcType as ConsumeProto } from '../generated/consume.js';
import type { ProtoGrpcType as GroupsProto } from '../generated/groups.js';
import type { ProtoGrpcType as ProduceProto } from '../generated/produce.js';
import type { ProtoGrpcType as QueueProto } from '../generated/queue.js';
import type { ProtoGrpcType as SchemaProto } from '../generated/schema.js';
import type { ProtoGrpcType as QuotaProto } from '../generated/quota.js';

/**
 * The wire protocol, loaded from proto/strata/v1 with the same options the generated types were made
 * with (see `make proto`): 64-bit integers as numbers (offsets stay below 2^53), enums as strings,
 * defaults filled in, oneofs named. Shared by the server and the client; depends on nothing of ours.
 */
export const PROTO_FILES = ['strata/v1/common.proto', 'strata/v1/admin.proto', 'strata/v1/produce.proto', 'strata/v1/consume.proto', 'strata/v1/groups.proto', 'strata/v1/queue.proto', 'strata/v1/acl.proto', 'strata/v1/schema.proto', 'strata/v1/quota.proto'];

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** The `proto/` directory: beside `src/` in a checkout, and beside `dist/` in an installed package. */
export function findProtoDirectory(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++) {
    const candidate = join(directory, 'proto');
    if (existsSync(join(candidate, 'strata', 'v1', 'common.proto'))) return candidate;
    directory = dirname(directory);
  }
  throw new Error('cannot find the proto/ directory of the strata package');
}

export type StrataProtocol = AdminProto & ProduceProto & ConsumeProto & GroupsProto & QueueProto & AclProto & SchemaProto & QuotaProto;

let cached: { packageDefinition: protoLoader.PackageDefinition; protocol: StrataProtocol } | undefined;

export function loadProtocol(): { packageDefinition: protoLoader.PackageDefinition; protocol: StrataProtocol } {
  if (!cached) {
    const packageDefinition = protoLoader.loadSync(PROTO_FILES, { ...PROTO_LOADER_OPTIONS, includeDirs: [findProtoDirectory()] });
    const protocol = grpc.loadPackageDefinition(packageDefinition) as unknown as StrataProtocol;
    cached = { packageDefinition, protocol };
  }
  return cached;
}

/** Trailing metadata key that carries the machine-readable error code of a failed call. */
export const ERROR_CODE_METADATA_KEY = 'strata-error-code';
/** Trailing metadata key: "true" when the same call may succeed later unchanged. */
export const ERROR_RETRIABLE_METADATA_KEY = 'strata-retriable';
/** Trailing metadata of a failed call: the id the server's log lines name the call by. */
export const CALL_ID_METADATA_KEY = 'strata-call-id';
/** Request metadata a client may set to choose that id (printable ASCII, up to 128 characters). */
export const REQUEST_ID_METADATA_KEY = 'x-request-id';
