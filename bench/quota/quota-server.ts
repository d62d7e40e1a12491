/**
 * The server of bench/quota-bench.ts, in a process of its own: a Strata server on a free port with
 * static tokens (authentication on, every principal a super user, so ACLs refuse nothing) and a
 * StaticQuotaSource of the quotas given, until the `__quotas` store can be set from the CLI. Prints
 * `quota server listening on ADDRESS HTTP_PORT`; stops cleanly on SIGTERM (bench/child-guard.ts sends it
 * when the bench goes away).
 *
 *   node dist/bench/quota/quota-server.js DATA_DIR TOKENS_FILE QUOTAS_JSON SUPER_USERS_CSV
 */
import { silentLogger } from '../../src/core/logger.js';
import { StaticQuotaSource, type QuotaValues } from '../../src/quotas/principal-quotas.js';
import { startServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig } from '../../src/server/server-config.js';

const [dataDir, tokensFile, quotasJson, superUsers] = process.argv.slice(2);
if (!dataDir || !tokensFile || !quotasJson || !superUsers) {
  process.stderr.write('usage: quota-server DATA_DIR TOKENS_FILE QUOTAS_JSON SUPER_USERS_CSV\n');
  process.exit(2);
}
const quotas = new Map(Object.entries(JSON.parse(quotasJson) as Record<string, QuotaValues>));
const server = await startServer(
  resolveServerConfig({ dataDir, port: 0, httpPort: 0, host: '127.0.0.1', authTokensFile: tokensFile, superUsers: superUsers.split(',') }),
  silentLogger,
  undefined,
  { quotaSource: new StaticQuotaSource(quotas) },
);
process.stdout.write(`quota server listening on 127.0.0.1:${server.port} ${server.httpPort}\n`);
let isStopping = false;
const stop = () => {
  if (isStopping) return;
  isStopping = true;
  void server.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
