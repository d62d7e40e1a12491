import { InvalidArgumentError, InvalidTopicNameError } from '../core/errors.js';
import { MAX_PARTITIONS, MAX_TOPIC_NAME_LENGTH, MIN_PARTITIONS } from '../core/limits.js';

const TOPIC_NAME_PATTERN = /^[a-zA-Z0-9._-]+$/;

/** Kafka's rule: [a-zA-Z0-9._-]{1,249}, and not `.` or `..` (they are directory names). */
export function validateTopicName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidTopicNameError('topic name must be a non-empty string');
  if (name.length > MAX_TOPIC_NAME_LENGTH) {
    throw new InvalidTopicNameError(`topic name is ${name.length} characters; at most ${MAX_TOPIC_NAME_LENGTH} are allowed`);
  }
  if (name === '.' || name === '..') throw new InvalidTopicNameError(`topic name cannot be '${name}'`);
  if (!TOPIC_NAME_PATTERN.test(name)) {
    throw new InvalidTopicNameError(`topic name '${name}' may contain only ASCII letters, digits, '.', '_' and '-'`);
  }
}

export function validatePartitionCount(count: unknown): asserts count is number {
  if (typeof count !== 'number' || !Number.isInteger(count) || count < MIN_PARTITIONS || count > MAX_PARTITIONS) {
    throw new InvalidArgumentError(`partition count must be an integer in [${MIN_PARTITIONS}, ${MAX_PARTITIONS}], got ${String(count)}`);
  }
}
