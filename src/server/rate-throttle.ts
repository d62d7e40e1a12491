import type { Clock } from '../core/clock.js';
import type { RateQuotas } from '../quotas/rate-quotas.js';

/**
 * What the services need to enforce rate quotas: the meters (which give the throttle time of each
 * answer) and the clock their held-back answers are timed on (the server's, a ManualClock in tests).
 */
export interface RateThrottle {
  rates: RateQuotas;
  clock: Clock;
}
