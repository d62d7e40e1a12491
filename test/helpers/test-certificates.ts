import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** PEM files made with openssl for a test: a CA, certificates it signed, and ones it did not. */
export interface TestCertificates {
  caCert: string;
  /** Another CA, trusted by nobody here: what a client with the wrong CA trusts, or signs a stranger's certificate. */
  otherCaCert: string;
  /** For 127.0.0.1 and localhost (subject CN=strata-server), signed by the CA. */
  serverCert: string;
  serverKey: string;
  /** A second server certificate (CN=strata-server-rotated), for reloads. */
  rotatedServerCert: string;
  rotatedServerKey: string;
  /** Expired yesterday, signed by the CA. */
  expiredServerCert: string;
  expiredServerKey: string;
  /** A client's (CN=alice, SAN email alice@example.com), signed by the CA. */
  clientCert: string;
  clientKey: string;
  expiredClientCert: string;
  expiredClientKey: string;
  /** A client certificate signed by the other CA. */
  strangerCert: string;
  strangerKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function key(dir: string, name: string): string {
  openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', `${name}.key`]);
  return join(dir, `${name}.key`);
}

function ca(dir: string, name: string): void {
  key(dir, name);
  openssl(dir, ['req', '-x509', '-key', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function signed(dir: string, name: string, caName: string, subject: string, extensions: string, days: number): void {
  key(dir, name);
  openssl(dir, ['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  writeText(dir, `${name}.ext`, extensions);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', String(days), '-extfile', `${name}.ext`]);
}

function writeText(dir: string, name: string, text: string): void {
  writeFileSync(join(dir, name), text);
}

const SERVER_EXT = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n';
const CLIENT_EXT = 'subjectAltName=email:alice@example.com\nextendedKeyUsage=clientAuth\n';

/** Makes every file in `dir` (openssl, from Debian's package; `make test` installs it when missing). */
export function makeTestCertificates(dir: string): TestCertificates {
  ca(dir, 'ca');
  ca(dir, 'other-ca');
  signed(dir, 'server', 'ca', '/CN=strata-server', SERVER_EXT, 2);
  signed(dir, 'rotated', 'ca', '/CN=strata-server-rotated', SERVER_EXT, 2);
  signed(dir, 'expired-server', 'ca', '/CN=strata-server', SERVER_EXT, -1);
  signed(dir, 'client', 'ca', '/CN=alice', CLIENT_EXT, 2);
  signed(dir, 'expired-client', 'ca', '/CN=alice', CLIENT_EXT, -1);
  signed(dir, 'stranger', 'other-ca', '/CN=mallory', CLIENT_EXT, 2);
  const at = (name: string) => join(dir, name);
  return {
    caCert: at('ca.pem'),
    otherCaCert: at('other-ca.pem'),
    serverCert: at('server.pem'),
    serverKey: at('server.key'),
    rotatedServerCert: at('rotated.pem'),
    rotatedServerKey: at('rotated.key'),
    expiredServerCert: at('expired-server.pem'),
    expiredServerKey: at('expired-server.key'),
    clientCert: at('client.pem'),
    clientKey: at('client.key'),
    expiredClientCert: at('expired-client.pem'),
    expiredClientKey: at('expired-client.key'),
    strangerCert: at('stranger.pem'),
    strangerKey: at('stranger.key'),
  };
}
