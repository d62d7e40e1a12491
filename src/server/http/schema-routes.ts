import { HttpError, readJsonBody, type HttpReply, type HttpRequest, type HttpServer } from './http-server.js';
import { InvalidSchemaError, SchemaNotFoundError, StrataError } from '../../core/errors.js';
import { parseCompatibilityLevel } from '../../schemas/compatibility-level.js';
import { isSchemaType, SCHEMA_TYPES, type SchemaReference } from '../../schemas/schema-format.js';
import { parseVersionSelector, type RegisteredSchema, type SchemaInput, type SchemaRegistry } from '../../schemas/schema-registry.js';

/** Confluent's content type: accepted in requests (as is plain JSON) and sent in every answer. */
export const SCHEMA_REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/** Confluent's REST error codes by Strata error code (HTTP status is the first three digits, 409 and 422 as Confluent). */
const CONFLUENT_ERRORS: Readonly<Record<string, { status: number; errorCode: number }>> = {
  SUBJECT_NOT_FOUND: { status: 404, errorCode: 40401 },
  SCHEMA_VERSION_NOT_FOUND: { status: 404, errorCode: 40402 },
  SCHEMA_NOT_FOUND: { status: 404, errorCode: 40403 },
  SCHEMA_NOT_SOFT_DELETED: { status: 404, errorCode: 40407 },
  SCHEMA_ALREADY_SOFT_DELETED: { status: 404, errorCode: 40406 },
  INCOMPATIBLE_SCHEMA: { status: 409, errorCode: 409 },
  INVALID_SCHEMA: { status: 422, errorCode: 42201 },
  INVALID_SCHEMA_VERSION: { status: 422, errorCode: 42202 },
  INVALID_CONFIG: { status: 422, errorCode: 42203 },
  SCHEMA_REFERENCED: { status: 422, errorCode: 42206 },
  INVALID_ARGUMENT: { status: 422, errorCode: 422 },
  SCHEMA_LIMIT_REACHED: { status: 422, errorCode: 422 },
};

const PREFIXES = ['/subjects', '/schemas', '/compatibility', '/config'];

/** Answers errors on the registry's paths in Confluent's shape: from the start, so the 503s of a starting server have it too. */
export function mapSchemaRegistryErrors(http: HttpServer): void {
  for (const prefix of PREFIXES) http.mapErrors(prefix, confluentErrorReply);
}

/**
 * The subset of Confluent Schema Registry's REST API that serializers and tools use, at Confluent's
 * paths on the broker's HTTP port, so a Confluent client is given `http://host:<http-port>`. Errors
 * are Confluent's shape, `{ "error_code": 40401, "message": "..." }`; a failure of the store (a retriable
 * StrataError) is 500 / 50001 as Confluent's "error in the backend data store".
 */
export function registerSchemaRoutes(http: HttpServer, registry: SchemaRegistry): void {
  const ok = (body: unknown): HttpReply => ({ status: 200, body, contentType: SCHEMA_REGISTRY_CONTENT_TYPE });
  const includeDeleted = (request: HttpRequest) => ({ includeDeleted: request.url.searchParams.get('deleted') === 'true' });
  const isPermanent = (request: HttpRequest) => ({ permanent: request.url.searchParams.get('permanent') === 'true' });

  http.route('GET', '/schemas/types', () => ok([...SCHEMA_TYPES]));
  http.route('GET', '/schemas/ids/:id', (request) => ok(schemaBody(registry.getById(parseId(request.params.id!)))));
  http.route('GET', '/schemas/ids/:id/schema', (request) => rawSchema(registry.getById(parseId(request.params.id!)).schema));
  http.route('GET', '/schemas/ids/:id/versions', (request) =>
    ok(registry.versionsOfId(parseId(request.params.id!), includeDeleted(request)).filter((v) => request.mayDescribe('schema_subject', v.subject))),
  );

  http.route('GET', '/subjects', (request) => ok(registry.listSubjects(includeDeleted(request)).filter((subject) => request.mayDescribe('schema_subject', subject))));
  http.route('POST', '/subjects/:subject', async (request) => ok(versionBody(registry.lookup(request.params.subject!, await readSchemaInput(request), includeDeleted(request)))));
  http.route('DELETE', '/subjects/:subject', async (request) => {
    try {
      return ok(await registry.deleteSubject(request.params.subject!, isPermanent(request)));
    } catch (error) {
      // Confluent tells the subject's cases (40405 not soft-deleted, 40404 soft-deleted already) from the version's (40407, 40406).
      if (error instanceof StrataError && error.code === 'SCHEMA_NOT_SOFT_DELETED') return confluentError(404, 40405, error.message);
      if (error instanceof StrataError && error.code === 'SCHEMA_ALREADY_SOFT_DELETED') return confluentError(404, 40404, error.message);
      throw error;
    }
  });
  http.route('GET', '/subjects/:subject/versions', (request) => ok(registry.listVersions(request.params.subject!, includeDeleted(request))));
  http.route('POST', '/subjects/:subject/versions', async (request) => {
    const { id } = await registry.register(request.params.subject!, await readSchemaInput(request));
    return ok({ id });
  });
  http.route('GET', '/subjects/:subject/versions/:version', (request) =>
    ok(versionBody(registry.getVersion(request.params.subject!, parseVersionSelector(request.params.version!), includeDeleted(request)))),
  );
  http.route('GET', '/subjects/:subject/versions/:version/schema', (request) =>
    rawSchema(registry.getVersion(request.params.subject!, parseVersionSelector(request.params.version!), includeDeleted(request)).schema),
  );
  http.route('GET', '/subjects/:subject/versions/:version/referencedby', (request) => ok(registry.referencedBy(request.params.subject!, parseVersionSelector(request.params.version!))));
  http.route('DELETE', '/subjects/:subject/versions/:version', async (request) =>
    ok(await registry.deleteVersion(request.params.subject!, parseVersionSelector(request.params.version!), isPermanent(request))),
  );

  const compatibility = async (request: HttpRequest, version: string | undefined): Promise<HttpReply> => {
    const selector = version === undefined ? undefined : parseVersionSelector(version);
    const { isCompatible, messages } = registry.checkCompatibility(request.params.subject!, await readSchemaInput(request), selector);
    return ok(request.url.searchParams.get('verbose') === 'true' ? { is_compatible: isCompatible, messages } : { is_compatible: isCompatible });
  };
  http.route('POST', '/compatibility/subjects/:subject/versions/:version', (request) => compatibility(request, request.params.version));
  http.route('POST', '/compatibility/subjects/:subject/versions', (request) => compatibility(request, undefined));

  http.route('GET', '/config', () => ok({ compatibilityLevel: registry.getConfig() }));
  http.route('PUT', '/config', async (request) => {
    const level = parseCompatibilityLevel(((await readObject(request)) as { compatibility?: unknown }).compatibility);
    await registry.setConfig(undefined, level);
    return ok({ compatibility: level });
  });
  http.route('GET', '/config/:subject', (request) => {
    const level = registry.getConfig(request.params.subject!, { defaultToGlobal: request.url.searchParams.get('defaultToGlobal') === 'true' });
    if (level === undefined) return confluentError(404, 40408, `subject '${request.params.subject}' does not have subject-level compatibility configured`);
    return ok({ compatibilityLevel: level });
  });
  http.route('PUT', '/config/:subject', async (request) => {
    const level = parseCompatibilityLevel(((await readObject(request)) as { compatibility?: unknown }).compatibility);
    await registry.setConfig(request.params.subject!, level);
    return ok({ compatibility: level });
  });
  http.route('DELETE', '/config/:subject', async (request) => {
    const previous = registry.getConfig(request.params.subject!);
    if (previous === undefined) return confluentError(404, 40408, `subject '${request.params.subject}' does not have subject-level compatibility configured`);
    await registry.setConfig(request.params.subject!, null);
    return ok({ compatibilityLevel: previous });
  });
}

function confluentError(status: number, errorCode: number, message: string): HttpReply {
  return { status, body: { error_code: errorCode, message }, contentType: SCHEMA_REGISTRY_CONTENT_TYPE };
}

/**
 * A body that is too large or not JSON (readJsonBody's HttpError: 413, or 400 where Confluent answers
 * 422): carried to the mapper as this, with the status Confluent's clients expect.
 */
class BadBodyError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function confluentErrorReply(error: unknown): HttpReply | undefined {
  if (error instanceof BadBodyError) return confluentError(error.status, error.status, error.message);
  // The HTTP server's own answers (the guard's 401/403, 503 while starting) in the registry's shape: Confluent's codes are the status and a digit.
  if (error instanceof HttpError) return confluentError(error.status, error.status * 100 + 1, error.message);
  if (!(error instanceof StrataError)) return undefined;
  const known = CONFLUENT_ERRORS[error.code];
  if (known) return confluentError(known.status, known.errorCode, error.message);
  return confluentError(error.retriable ? 500 : 422, error.retriable ? 50001 : 422, `${error.code}: ${error.message}`);
}

/** Confluent's schema answer: schemaType omitted for AVRO, references omitted when there are none. */
function schemaBody(schema: SchemaInput): Record<string, unknown> {
  return {
    schema: schema.schema,
    ...(schema.schemaType === 'AVRO' ? {} : { schemaType: schema.schemaType }),
    ...(schema.references.length > 0 ? { references: schema.references } : {}),
  };
}

function versionBody(registered: RegisteredSchema): Record<string, unknown> {
  return { subject: registered.subject, version: registered.version, id: registered.id, ...schemaBody(registered) };
}

function rawSchema(schema: string): HttpReply {
  return { status: 200, body: schema, contentType: SCHEMA_REGISTRY_CONTENT_TYPE };
}

function parseId(text: string): number {
  const id = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(id) || id < 1) throw new SchemaNotFoundError(`'${text}' is not a schema id`);
  return id;
}

async function readObject(request: HttpRequest): Promise<object> {
  let body: unknown;
  try {
    body = await readJsonBody(request.raw);
  } catch (error) {
    if (error instanceof HttpError) throw new BadBodyError(error.status === 413 ? 413 : 422, error.message);
    throw error;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadBodyError(422, 'the body must be a JSON object');
  return body;
}

/** `{ schema, schemaType?, references? }` as Confluent's clients send it; InvalidSchema-shaped 422 for anything else. */
async function readSchemaInput(request: HttpRequest): Promise<SchemaInput> {
  const body = (await readObject(request)) as Record<string, unknown>;
  if (typeof body.schema !== 'string') throw new InvalidSchemaError("the body's 'schema' must be a string (the schema's text)");
  const schemaType = body.schemaType ?? 'AVRO';
  if (!isSchemaType(schemaType)) throw new InvalidSchemaError(`schemaType must be one of ${SCHEMA_TYPES.join(', ')}, got ${JSON.stringify(body.schemaType)}`);
  const references = body.references ?? [];
  if (!Array.isArray(references) || !references.every(isReference)) throw new InvalidSchemaError("'references' must be a list of { name, subject, version }");
  return { schemaType, schema: body.schema, references: references.map((r) => ({ name: r.name, subject: r.subject, version: r.version })) };
}

function isReference(value: unknown): value is SchemaReference {
  const r = value as Record<string, unknown>;
  return typeof value === 'object' && value !== null && typeof r.name === 'string' && typeof r.subject === 'string' && Number.isSafeInteger(r.version) && (r.version as number) > 0;
}
