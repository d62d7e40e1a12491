/**
 * A RabbitMQ node of its own for the queue bench: Debian's rabbitmq-server run in the foreground
 * (no systemd, no /var/lib/rabbitmq), everything it writes in one temporary directory (mnesia, logs,
 * config, Erlang cookie through HOME), on free ports (AMQP, distribution, epmd) bound to 127.0.0.1.
 * Both epmd and the node run under bench/child-guard.ts, so they stop when the bench goes away
 * however it goes; the node's start script turns SIGTERM into a clean `rabbitmqctl stop`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort, makeTempDir, startChild, stopChild, type Started } from '../grpc/child-processes.js';

/** Where Debian puts the node's own start script (/usr/sbin/rabbitmq-server switches to the rabbitmq user). */
const RABBITMQ_SCRIPTS_DIR = '/usr/lib/rabbitmq/bin';
const START_TIMEOUT_MS = 90_000;

export interface RabbitMqNode {
  url: string;
  /** The guard's pid: its process tree is the node (and its helpers), for CPU readings. */
  serverPid: number;
  version: string;
  stop(): Promise<void>;
}

/** Why the node cannot be started here, or undefined when it can be tried. */
export function rabbitMqAvailability(): string | undefined {
  if (!fs.existsSync(path.join(RABBITMQ_SCRIPTS_DIR, 'rabbitmq-server'))) {
    return `${RABBITMQ_SCRIPTS_DIR}/rabbitmq-server not found (Debian: apt-get install -y rabbitmq-server, or make bench-deps)`;
  }
  if (spawnSync('sh', ['-c', 'command -v epmd'], { encoding: 'utf8' }).status !== 0) return 'epmd not found on PATH (it comes with erlang-base)';
  return undefined;
}

/** The installed package's version (dpkg), for the run's header. */
export function rabbitMqVersion(): string {
  const query = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'rabbitmq-server'], { encoding: 'utf8' });
  return query.status === 0 && query.stdout.trim() ? query.stdout.trim() : 'absent';
}

export function erlangVersion(): string {
  const query = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'erlang-base'], { encoding: 'utf8' });
  return query.status === 0 && query.stdout.trim() ? query.stdout.trim() : 'absent';
}

export async function startRabbitMq(): Promise<RabbitMqNode> {
  const dir = makeTempDir('strata-queue-bench-rabbitmq-');
  const [amqpPort, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  const configFile = path.join(dir, 'rabbitmq.conf');
  fs.writeFileSync(configFile, [`listeners.tcp.1 = 127.0.0.1:${amqpPort}`, 'loopback_users = none', ''].join('\n'));
  fs.writeFileSync(path.join(dir, 'enabled_plugins'), '[].\n');
  // An empty env file, so that /etc/rabbitmq/rabbitmq-env.conf (the system node's settings) is not read.
  fs.writeFileSync(path.join(dir, 'rabbitmq-env.conf'), '');
  const env: Record<string, string> = {
    HOME: dir,
    RABBITMQ_CONF_ENV_FILE: path.join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_NODENAME: `strata-bench-${process.pid}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(amqpPort),
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(dir, 'log'),
    RABBITMQ_LOGS: '-',
    RABBITMQ_CONFIG_FILE: configFile,
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
    RABBITMQ_PLUGINS_EXPAND_DIR: path.join(dir, 'plugins-expand'),
    RABBITMQ_PID_FILE: path.join(dir, 'rabbitmq.pid'),
  };
  // epmd of our own, in the foreground on its own port: the node would otherwise start a daemon that
  // outlives the bench. The shell only joins epmd's stderr (where -d prints) to stdout, which
  // startChild() reads.
  let epmd: Started | undefined;
  let node: Started | undefined;
  const withEnv = Object.entries(env).map(([name, value]) => `${name}='${value}'`).join(' ');
  try {
    epmd = await startChild('epmd', 'sh', ['-c', `exec env ERL_EPMD_ADDRESS=127.0.0.1 epmd -port ${epmdPort} -d 2>&1`], /epmd running/, { guarded: true });
    node = await startChild(
      'rabbitmq-server',
      'sh',
      ['-c', `cd '${dir}' && exec env ${withEnv} ${RABBITMQ_SCRIPTS_DIR}/rabbitmq-server 2>&1`],
      /Server startup complete/,
      { guarded: true, removeDir: dir, timeoutMs: START_TIMEOUT_MS },
    );
  } catch (error) {
    if (epmd) await stopChild(epmd.child);
    throw error;
  }
  const started = node;
  const startedEpmd = epmd;
  return {
    url: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
    serverPid: started.child.pid!,
    version: rabbitMqVersion(),
    async stop() {
      await stopChild(started.child);
      await stopChild(startedEpmd.child);
    },
  };
}
