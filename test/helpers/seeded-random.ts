export { SeededRandom } from '../../src/core/seeded-random.js';

/**
 * Seeds for a seeded test: the comma-separated STRATA_SEED when set (to replay a failure), else the
 * given defaults.
 */
export function seedsFromEnv(defaults: readonly number[]): number[] {
  const raw = process.env.STRATA_SEED?.trim();
  if (!raw) return [...defaults];
  const seeds = raw.split(',').map((s) => Number(s.trim()));
  if (seeds.some((s) => !Number.isSafeInteger(s) || s < 0)) throw new Error(`STRATA_SEED must be non-negative integers, got '${raw}'`);
  return seeds;
}
