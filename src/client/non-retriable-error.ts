/**
 * Thrown by a record handler to say the record will never work (malformed, forbidden, ...): a queue
 * group's process() rejects it (straight to the dead-letter topic), and a group consumer's failure
 * policy dead-letters it without retrying. Any other throw is retried with backoff.
 */
export class NonRetriableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NonRetriableError';
  }
}
