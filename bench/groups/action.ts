/** One step of a schedule, performed at a virtual time by every model (Strata and eager) alike. */
export type ActionKind = 'join' | 'leave' | 'crash' | 'static-leave' | 'rejoin' | 'static-rejoin';
export interface Action {
  atMs: number;
  slot: string;
  kind: ActionKind;
}

export const slotName = (i: number) => `c${String(i).padStart(3, '0')}`;
export const instanceIdOf = (slot: string) => `instance-${slot}`;
