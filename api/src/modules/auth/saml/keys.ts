import { existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import selfsigned from 'selfsigned';

export interface KeyPair {
  /** PEM private key. */
  key: string;
  /** PEM self-signed certificate (SAML metadata carries certificates, not bare keys). */
  cert: string;
}

/**
 * The key pair in `<dir>/<name>.pem` (private key and certificate together), generated at first use.
 * Written to a temporary file and renamed, so two processes starting at once agree on one pair.
 */
export async function ensureKeyPair(dir: string, name: string, commonName: string): Promise<KeyPair> {
  const file = join(dir, `${name}.pem`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pems = await selfsigned.generate([{ name: 'commonName', value: commonName.slice(0, 64) }], {
      keySize: 2048,
      notAfterDate: new Date(Date.now() + 3650 * 86_400_000),
      algorithm: 'sha256',
    });
    const tmp = `${file}.${process.pid}.${Date.now()}`;
    writeFileSync(tmp, `${pems.private.trim()}\n${pems.cert.trim()}\n`, { mode: 0o600 });
    if (existsSync(file)) unlinkSync(tmp);
    else renameSync(tmp, file);
  }
  const text = readFileSync(file, 'utf8');
  const key = /-----BEGIN (RSA )?PRIVATE KEY-----[\s\S]+?-----END (RSA )?PRIVATE KEY-----/.exec(text)?.[0];
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
  if (!key || !cert) throw new Error(`${file} must hold a PEM private key and certificate`);
  return { key: `${key}\n`, cert: `${cert}\n` };
}

/** The base64 body of a PEM certificate, as SAML metadata and node-saml's idpCert want it. */
export function certBody(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}
