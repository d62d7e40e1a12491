import type { InitProducerRequest } from '../../src/generated/strata/v1/InitProducerRequest.js';
import type { InitProducerResponse } from '../../src/generated/strata/v1/InitProducerResponse.js';

type Callback = (error: unknown, response?: InitProducerResponse) => void;

/**
 * An InitProducer method for fake Produce stubs, handing out ids and epochs as the server does (a
 * fresh id from `firstId`, or the next epoch of `current`: past 32767 a fresh id); `requests` lists
 * what it was asked. Answers on setImmediate, as a call would.
 */
export function fakeInitProducer(firstId = 1) {
  let nextId = firstId;
  const requests: InitProducerRequest[] = [];
  const initProducer = (request: InitProducerRequest, optionsOrCallback: unknown, maybeCallback?: Callback): void => {
    const callback = (typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback) as Callback;
    requests.push(request);
    const current = request.current;
    const response =
      current && Number(current.producerEpoch) < 0x7fff
        ? { producerId: Number(current.producerId), producerEpoch: Number(current.producerEpoch) + 1 }
        : { producerId: nextId++, producerEpoch: 0 };
    setImmediate(() => callback(null, response));
  };
  return Object.assign(initProducer, { requests });
}
