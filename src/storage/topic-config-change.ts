import { InvalidArgumentError, InvalidConfigError } from '../core/errors.js';
import { resolveTopicConfig, TOPIC_CONFIG_KEYS, type TopicConfig } from './topic-config.js';

/** A change of a topic's overrides (Kafka's incremental AlterConfigs: SET and DELETE). */
export interface TopicConfigChange {
  /** Keys to override, with their new values as a user writes them (`{'retention.ms': '60000'}`). */
  set: Readonly<Record<string, string>>;
  /** Keys whose override goes: they return to the default. Deleting a key that is not overridden is a no-op. */
  delete: readonly string[];
}

/**
 * The overrides after `change`, and the configuration they resolve to, checked as at creation: the
 * same parser (resolveTopicConfig) on the whole result, so a change is refused exactly when a topic
 * created with the resulting overrides would be. Refuses (typed errors, nothing changed): an empty
 * change, a key both set and deleted, an unknown key in either list, a bad value.
 */
export function planTopicConfigChange(
  currentOverrides: Readonly<Record<string, string>>,
  change: TopicConfigChange,
): { overrides: Record<string, string>; config: TopicConfig } {
  const setKeys = Object.keys(change.set);
  if (setKeys.length === 0 && change.delete.length === 0) {
    throw new InvalidArgumentError('nothing to change: give at least one key to set or to delete');
  }
  for (const key of change.delete) {
    // Own keys only, as resolveTopicConfig checks them: '__proto__' is an unknown key.
    if (!Object.hasOwn(TOPIC_CONFIG_KEYS, key)) {
      throw new InvalidConfigError(`unknown topic config '${key}' (known: ${Object.keys(TOPIC_CONFIG_KEYS).join(', ')})`);
    }
    if (Object.hasOwn(change.set, key)) throw new InvalidArgumentError(`topic config '${key}' is both set and deleted: give it once`);
  }
  // A null-prototype copy: a key such as '__proto__' stays a key, to be refused as unknown.
  const overrides: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, currentOverrides);
  for (const key of setKeys) overrides[key] = String(change.set[key]);
  for (const key of change.delete) delete overrides[key];
  const config = resolveTopicConfig(overrides);
  return { overrides: { ...overrides }, config };
}
