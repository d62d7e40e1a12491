// Who waits for records, below the pipeline and the sinks (send-sinks.ts) that both use it.

export interface RecordMetadata {
  topic: string;
  partition: number;
  /**
   * -1 when the producer asked for no acknowledgement, or when a retry after a server restart found
   * the record already in the log further back than the server could tell its offset.
   */
  offset: number;
  /** What the acknowledgement promises: 'durable' (fsynced), 'written' (in the log) or 'none'. */
  durability: 'durable' | 'written' | 'none';
  /**
   * True when the record was not written because a record with its `messageId` was appended to the
   * partition within the topic's `dedupe.window.ms`: `offset` is that record's. Absent otherwise.
   */
  duplicate?: true;
}

/**
 * Who waits for records: one send() (one record) or one sendBatch() (many, possibly in several
 * batches). A sink object per call, not closures per record, keeps un-acknowledged records cheap for
 * the garbage collector.
 */
export interface RecordSink {
  /** Record number `index` of the call is acknowledged. */
  onAcknowledged(index: number, metadata: RecordMetadata): void;
  /** Some record of the call failed for good (may be called more than once). */
  onFailed(error: Error): void;
}
