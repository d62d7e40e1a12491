import type { EventEmitter } from 'node:events';
import type { Http2Session } from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

/** Node's (and HTTP/2's) default window: 64 KiB less one byte. */
export const DEFAULT_HTTP2_WINDOW_BYTES = 65_535;
/** The largest window HTTP/2 allows (RFC 9113, 6.9.1). */
export const MAX_HTTP2_WINDOW_BYTES = 2 ** 31 - 1;

export interface FlowControlWindows {
  /** SETTINGS_INITIAL_WINDOW_SIZE: what a client may send on one stream before the server reads it. */
  streamWindowBytes: number;
  /** The connection's window: what a client may send on all its streams before the server reads it. */
  connectionWindowBytes: number;
}

/**
 * Raises the HTTP/2 receive windows of every connection the server accepts.
 *
 * Why: grpc-js 1.14 servers keep Node's 64 KiB default (the client has `grpc-node.flow_control_window`,
 * the server has no option yet: grpc/grpc-node PR #3058). With 64 KiB a client can have only four
 * 16 KiB produce requests on the wire, then waits a round trip for a WINDOW_UPDATE from a busy server.
 * Raising it sped the raw produce path up by about half, and a 1 MiB stream window did as well as
 * 8 MiB (measured in bench/history/2026-11-30-sessions-1-6.md, "Session 3").
 *
 * Memory: Node gives the connection window back as data arrives, read or not; only the stream window
 * is held while the service does not read a stream (a paused produce stream). So what one connection
 * can make the server hold unread is the stream window times its open streams: the server caps those
 * with `grpc.max_concurrent_streams` (grpc-server.ts), and each open call reserves its window from
 * the server's memory budget (admission-gate.ts).
 *
 * grpc-js does not expose its HTTP/2 servers, so this reaches its private `http2Servers` map after
 * `bindAsync`. Returns false (and changes nothing) if that map is not there, e.g. after a grpc-js
 * upgrade: the server still works, only with the small windows; a test pins this.
 */
export function raiseFlowControlWindows(server: grpc.Server, windows: FlowControlWindows): boolean {
  for (const [name, bytes] of Object.entries(windows)) {
    if (!Number.isInteger(bytes) || bytes < DEFAULT_HTTP2_WINDOW_BYTES || bytes > MAX_HTTP2_WINDOW_BYTES) {
      throw new RangeError(`${name} must be an integer in [${DEFAULT_HTTP2_WINDOW_BYTES}, ${MAX_HTTP2_WINDOW_BYTES}], got ${bytes}`);
    }
  }
  const http2Servers: unknown = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(http2Servers instanceof Map) || http2Servers.size === 0) return false;
  for (const http2Server of http2Servers.keys() as IterableIterator<EventEmitter>) {
    http2Server.on('session', (session: Http2Session) => {
      // A session can be gone (destroyed by a reset) before this runs; a throw here would end the process.
      if (session.destroyed) return;
      try {
        if (windows.streamWindowBytes !== DEFAULT_HTTP2_WINDOW_BYTES) session.settings({ initialWindowSize: windows.streamWindowBytes });
        if (windows.connectionWindowBytes !== DEFAULT_HTTP2_WINDOW_BYTES) session.setLocalWindowSize(windows.connectionWindowBytes);
      } catch {
        // The connection is closing: nothing to raise.
      }
    });
  }
  return true;
}
