import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import type { experimental } from '@grpc/grpc-js';
import { InvalidConfigError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

type CertificateProvider = experimental.CertificateProvider;
type CaListener = Parameters<CertificateProvider['addCaCertificateListener']>[0];
type IdentityListener = Parameters<CertificateProvider['addIdentityCertificateListener']>[0];

/** The server's TLS files (PEM): its certificate chain and key, and the CA that client certificates must chain to (mutual TLS). */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** When set, every client must present a certificate signed by this CA (mutual TLS). */
  clientCaFile?: string;
}

/** What a reload read: PEM bytes, checked. */
interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  clientCa: Buffer | undefined;
  /** The leaf certificate's subject and expiry, for the log line. */
  subject: string;
  validToMs: number;
}

/**
 * The server's certificates, read from files at startup and again on `reload()` (SIGHUP), shared
 * by the gRPC listener (as grpc-js's CertificateProvider: new handshakes use the new files, open
 * connections keep theirs) and the HTTP port (setSecureContext). Files are checked before use: PEM
 * that parses, a key that belongs to the certificate, a CA file that parses; an expired certificate
 * is refused (at startup and at a reload), and a reload that fails any check keeps the files in use (logged), so a
 * half-copied rotation never takes the listener down.
 */
export class TlsCertificates implements CertificateProvider {
  private material: TlsMaterial;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly secureContextListeners = new Set<(options: SecureContextOptions) => void>();

  constructor(
    readonly files: TlsFiles,
    private readonly logger: Logger,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.material = readMaterial(files, nowMs());
    logger.info({ subject: this.material.subject, validTo: new Date(this.material.validToMs).toISOString(), mutualTls: files.clientCaFile !== undefined }, 'TLS certificates loaded');
  }

  get requiresClientCertificate(): boolean {
    return this.files.clientCaFile !== undefined;
  }

  /** Options for a Node TLS server (the HTTP port): TLS 1.2 or later, client certificates when a client CA is set. */
  secureContextOptions(): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
    const { cert, key, clientCa } = this.material;
    return { cert, key, ...(clientCa ? { ca: clientCa } : {}), minVersion: 'TLSv1.2', requestCert: clientCa !== undefined, rejectUnauthorized: clientCa !== undefined };
  }

  /** Called with the new options after each successful reload. */
  onReload(listener: (options: SecureContextOptions) => void): void {
    this.secureContextListeners.add(listener);
  }

  /** Reads the files again; on any failure keeps the ones in use and returns the error (also logged). */
  reload(): Error | undefined {
    let material: TlsMaterial;
    try {
      material = readMaterial(this.files, this.nowMs());
    } catch (error) {
      this.logger.error({ err: error }, 'TLS reload failed: the certificates in use stay');
      return error as Error;
    }
    this.material = material;
    for (const listener of this.identityListeners) listener({ certificate: material.cert, privateKey: material.key });
    if (material.clientCa) for (const listener of this.caListeners) listener({ caCertificate: material.clientCa });
    for (const listener of this.secureContextListeners) listener(this.secureContextOptions());
    this.logger.info({ subject: material.subject, validTo: new Date(material.validToMs).toISOString() }, 'TLS certificates reloaded');
    return undefined;
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    const { clientCa } = this.material;
    // grpc-js waits for a first update before it accepts handshakes; answer at once, as its file watcher does.
    if (clientCa) queueMicrotask(() => listener({ caCertificate: clientCa }));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    const { cert, key } = this.material;
    queueMicrotask(() => listener({ certificate: cert, privateKey: key }));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
}

function readMaterial(files: TlsFiles, nowMs: number): TlsMaterial {
  const cert = readPem(files.certFile, 'certificate (--tls-cert)');
  const key = readPem(files.keyFile, 'private key (--tls-key)');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (error) {
    throw new InvalidConfigError(`${files.certFile} is not a PEM certificate: ${(error as Error).message}`, { cause: error });
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new InvalidConfigError(`${files.keyFile} is not a PEM private key (an encrypted key is not supported): ${(error as Error).message}`, { cause: error });
  }
  if (!leaf.checkPrivateKey(privateKey)) throw new InvalidConfigError(`${files.keyFile} is not the key of the certificate in ${files.certFile}`);
  const validToMs = Date.parse(leaf.validTo);
  if (validToMs <= nowMs) throw new InvalidConfigError(`the certificate in ${files.certFile} expired at ${leaf.validTo}: clients would refuse it`);
  let clientCa: Buffer | undefined;
  if (files.clientCaFile !== undefined) {
    clientCa = readPem(files.clientCaFile, 'client CA (--tls-client-ca)');
    try {
      new X509Certificate(clientCa);
    } catch (error) {
      throw new InvalidConfigError(`${files.clientCaFile} is not a PEM certificate: ${(error as Error).message}`, { cause: error });
    }
  }
  return { cert, key, clientCa, subject: leaf.subject.replace(/\n/g, ', '), validToMs };
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new InvalidConfigError(`cannot read the TLS ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
}
