import { performance } from 'node:perf_hooks';
import type { AssignorInput, GroupAssignment, PartitionAssignor } from '../../src/groups/assignors/partition-assignor.js';
import type { CoordinatorTimer } from './coordinator-timer.js';
import { TOPIC } from './params.js';

/** The real StickyAssignor, timed, and the movements of its target (the minimum the assignor allows). */
export class MeasuredAssignor implements PartitionAssignor {
  readonly name: string;
  targetMoves = 0;
  private previousOwner = new Map<number, string>();

  constructor(
    private readonly inner: PartitionAssignor,
    private readonly timer: CoordinatorTimer,
  ) {
    this.name = inner.name;
  }

  assign(input: AssignorInput): GroupAssignment {
    const start = performance.now();
    const output = this.inner.assign(input);
    this.timer.assignorMs += performance.now() - start;
    this.timer.assignorCalls++;
    this.timer.outside(() => {
      const identity = new Map(input.members.map((m) => [m.memberId, m.instanceId ?? m.memberId]));
      const owner = new Map<number, string>();
      for (const [memberId, topics] of output) {
        for (const p of topics.get(TOPIC) ?? []) {
          const id = identity.get(memberId) ?? memberId;
          owner.set(p, id);
          const before = this.previousOwner.get(p);
          if (before !== undefined && before !== id) this.targetMoves++;
        }
      }
      this.previousOwner = owner;
    });
    return output;
  }
}
