import type { EventEmitter } from 'node:events';
import type { Http2Session } from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

/** Node's (and HTTP/2's) default window: 64 KiB less one byte. */
export const DEFAULT_HTTP2_WINDOW_BYTES = 65_535;
/** The largest window HTTP/2 allows (RFC 9113, 6.9.1). */
export const MAX_HTTP2_WINDOW_BYTES = 2 ** 31 - 1;

/**
 * Raises the HTTP/2 receive window of every connection the server accepts: the stream window
 * (SETTINGS_INITIAL_WINDOW_SIZE) and the connection window, both to `windowBytes`.
 *
 * Why: grpc-js 1.14 servers keep Node's 64 KiB default (the client has `grpc-node.flow_control_window`,
 * the server has no option yet: grpc/grpc-node PR #3058). With 64 KiB a client can have only four
 * 16 KiB produce requests on the wire, then waits a round trip for a WINDOW_UPDATE from a busy server;
 * measured here, raising it took the raw produce path from 0.82-0.91M to 1.34-1.51M records/s.
 * Memory stays bounded: the window is what one connection may send before the server reads it, and a
 * paused stream (produce back-pressure) stops being read, so no window update goes out.
 *
 * grpc-js does not expose its HTTP/2 servers, so this reaches its private `http2Servers` map after
 * `bindAsync`. Returns false (and changes nothing) if that map is not there, e.g. after a grpc-js
 * upgrade: the server still works, only with the small window; a test pins this.
 */
export function raiseFlowControlWindow(server: grpc.Server, windowBytes: number): boolean {
  if (!Number.isInteger(windowBytes) || windowBytes < DEFAULT_HTTP2_WINDOW_BYTES || windowBytes > MAX_HTTP2_WINDOW_BYTES) {
    throw new RangeError(`windowBytes must be an integer in [${DEFAULT_HTTP2_WINDOW_BYTES}, ${MAX_HTTP2_WINDOW_BYTES}], got ${windowBytes}`);
  }
  const http2Servers: unknown = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(http2Servers instanceof Map) || http2Servers.size === 0) return false;
  if (windowBytes === DEFAULT_HTTP2_WINDOW_BYTES) return true;
  for (const http2Server of http2Servers.keys() as IterableIterator<EventEmitter>) {
    http2Server.on('session', (session: Http2Session) => {
      // A session can be gone (destroyed by a reset) before this runs; a throw here would end the process.
      if (session.destroyed) return;
      try {
        session.settings({ initialWindowSize: windowBytes });
        session.setLocalWindowSize(windowBytes);
      } catch {
        // The connection is closing: nothing to raise.
      }
    });
  }
  return true;
}
