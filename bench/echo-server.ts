/**
 * The transport ceiling for bench/grpc-bench.ts: a bare grpc-js server whose methods are registered
 * with identity serializers, so a message is a raw Buffer and no protobuf work happens on either side.
 * Started as a child process by grpc-bench (never on its own in normal use):
 *
 *   node dist/bench/echo-server.js      prints `echo listening on 127.0.0.1:PORT`, stops on SIGTERM
 *
 * Methods (service `bench.Echo`):
 *   Echo  bidi stream: every message is written back unchanged (the same bytes both ways);
 *   Ack   bidi stream: every message is answered with an 8-byte message (produce-like: big request,
 *         small response);
 *   Pull  server stream: the request is 8 bytes, [messageBytes u32 BE, count u32 BE]; the server sends
 *         `count` messages of `messageBytes` bytes, honouring flow control (fetch-like).
 * The server applies backpressure the way Strata's services do: it stops reading (pause) while its
 * writes are blocked, and waits for 'drain'. It raises its HTTP/2 receive window as Strata's server
 * does by default (src/server/flow-control-window.ts), so the ceiling has the same transport.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { raiseFlowControlWindows } from '../src/server/flow-control-window.js';
import { DEFAULT_SERVER_CONFIG } from '../src/server/server-config.js';

const identity = (buffer: Buffer): Buffer => buffer;

export const ECHO_SERVICE: grpc.ServiceDefinition = {
  Echo: {
    path: '/bench.Echo/Echo',
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
  Ack: {
    path: '/bench.Echo/Ack',
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
  Pull: {
    path: '/bench.Echo/Pull',
    requestStream: false,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

type Duplex = grpc.ServerDuplexStream<Buffer, Buffer>;

function answerEach(call: Duplex, answer: (message: Buffer) => Buffer): void {
  call.on('data', (message: Buffer) => {
    if (!call.write(answer(message)) && !call.isPaused()) {
      call.pause();
      call.once('drain', () => call.resume());
    }
  });
  call.on('end', () => call.end());
  call.on('error', () => undefined);
}

function main(): void {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 17 * 1024 * 1024,
    'grpc.max_send_message_length': 17 * 1024 * 1024,
  });
  const ack = Buffer.alloc(8);
  server.addService(ECHO_SERVICE, {
    Echo: (call: Duplex) => answerEach(call, (message) => message),
    Ack: (call: Duplex) => answerEach(call, () => ack),
    Pull: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const messageBytes = Math.min(16 * 1024 * 1024, call.request.readUInt32BE(0));
      let remaining = call.request.readUInt32BE(4);
      const payload = Buffer.alloc(messageBytes, 7);
      let isDone = false;
      call.on('cancelled', () => (isDone = true));
      const pump = () => {
        while (!isDone && remaining > 0) {
          remaining--;
          if (!call.write(payload)) {
            call.once('drain', pump);
            return;
          }
        }
        if (!isDone) call.end();
      };
      pump();
    },
  });
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
    if (error) {
      process.stderr.write(`echo server: ${error.message}\n`);
      process.exit(1);
    }
    const { streamWindowBytes, connectionWindowBytes } = DEFAULT_SERVER_CONFIG;
    if (!raiseFlowControlWindows(server, { streamWindowBytes, connectionWindowBytes })) {
      process.stderr.write('echo server: cannot raise the HTTP/2 window\n');
      process.exit(1);
    }
    process.stdout.write(`echo listening on 127.0.0.1:${port}\n`);
  });
  const stop = () => {
    server.forceShutdown();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The parent's end: if it dies without signalling us, stdin closes and we go too.
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

// Run only as the program, not when grpc-bench imports ECHO_SERVICE.
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
