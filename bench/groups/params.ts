/** The one group and topic of every simulated run. */
export const GROUP = 'bench-group';
export const TOPIC = 'events';

export interface Params {
  seed: number;
  members: number;
  partitions: number;
  revocationDelayMs: number;
  downMs: number;
  gapMs: number;
  restartPercent: number;
  /** Virtual time given to the group to form and settle before anything is measured. */
  warmupMs: number;
  /** Virtual time simulated after the last event of a schedule. */
  tailMs: number;
}
