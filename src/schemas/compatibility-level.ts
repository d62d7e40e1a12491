import { InvalidConfigError } from '../core/errors.js';

/** Confluent's compatibility levels; BACKWARD is the default. */
export const COMPATIBILITY_LEVELS = ['NONE', 'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE'] as const;
export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];
export const DEFAULT_COMPATIBILITY_LEVEL: CompatibilityLevel = 'BACKWARD';

export function parseCompatibilityLevel(value: unknown): CompatibilityLevel {
  const level = typeof value === 'string' ? value.toUpperCase() : value;
  if (!(COMPATIBILITY_LEVELS as readonly unknown[]).includes(level)) {
    throw new InvalidConfigError(`compatibility must be one of ${COMPATIBILITY_LEVELS.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return level as CompatibilityLevel;
}

/**
 * What a level asks of a new schema against the live versions before it (oldest first):
 * BACKWARD, the new schema reads data written with the latest (consumers upgrade first);
 * FORWARD, the latest reads data written with the new one (producers upgrade first); FULL, both;
 * *_TRANSITIVE, against every live version instead of the latest only; NONE, nothing.
 * `incompatibilities(reader, writer)` is the format's rule; messages name the version they fail.
 */
export function checkCompatibility<P>(
  level: CompatibilityLevel,
  candidate: P,
  previous: ReadonlyArray<{ version: number; parsed: P }>,
  incompatibilities: (reader: P, writer: P) => string[],
): string[] {
  if (level === 'NONE' || previous.length === 0) return [];
  const against = level.endsWith('_TRANSITIVE') ? previous : previous.slice(-1);
  const isBackward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const isForward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const out: string[] = [];
  for (const { version, parsed } of against) {
    if (isBackward) for (const message of incompatibilities(candidate, parsed)) out.push(`version ${version} (the new schema cannot read its data): ${message}`);
    if (isForward) for (const message of incompatibilities(parsed, candidate)) out.push(`version ${version} (it cannot read the new schema's data): ${message}`);
  }
  return out;
}
