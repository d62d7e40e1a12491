import { HttpError, type HttpRequest } from '../http-server.js';
import { CONSOLE_LIMITS } from './console-limits.js';

/**
 * Query-string parsing for the console's API: a value that is there but malformed is a 400 naming the
 * parameter and what it takes, never a silent default.
 */
export function integerParam(request: HttpRequest, name: string, options: { min: number; max?: number }): number | undefined {
  const text = request.url.searchParams.get(name);
  if (text === null || text === '') return undefined;
  const value = /^-?\d+$/.test(text) ? Number(text) : NaN;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(value) || value < options.min || value > max) {
    throw new HttpError(400, 'BAD_REQUEST', `${name} must be an integer in [${options.min}, ${max}], got '${text}'`);
  }
  return value;
}

export function stringParam(request: HttpRequest, name: string): string | undefined {
  const text = request.url.searchParams.get(name);
  return text === null ? undefined : text;
}

export function choiceParam<T extends string>(request: HttpRequest, name: string, choices: readonly T[]): T | undefined {
  const text = request.url.searchParams.get(name);
  if (text === null || text === '') return undefined;
  if (!(choices as readonly string[]).includes(text)) throw new HttpError(400, 'BAD_REQUEST', `${name} must be one of ${choices.join(', ')}, got '${text}'`);
  return text as T;
}

export interface Page {
  offset: number;
  limit: number;
}

/** `?offset=&limit=` of a list: limit defaults to CONSOLE_LIMITS.defaultPageRows, at most maxPageRows. */
export function pageParams(request: HttpRequest): Page {
  return {
    offset: integerParam(request, 'offset', { min: 0 }) ?? 0,
    limit: integerParam(request, 'limit', { min: 1, max: CONSOLE_LIMITS.maxPageRows }) ?? CONSOLE_LIMITS.defaultPageRows,
  };
}

/** One page of `rows`, with the total so a client can page on. */
export function paged<T>(rows: readonly T[], page: Page): { items: T[]; total: number; offset: number; limit: number } {
  return { items: rows.slice(page.offset, page.offset + page.limit), total: rows.length, offset: page.offset, limit: page.limit };
}

/** A JSON body's object, or 400. */
export function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'BAD_REQUEST', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

export function bodyInteger(body: Record<string, unknown>, name: string, options: { min: number; max?: number }): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < options.min || value > max) {
    throw new HttpError(400, 'BAD_REQUEST', `${name} must be an integer in [${options.min}, ${max}], got ${JSON.stringify(value)}`);
  }
  return value;
}
