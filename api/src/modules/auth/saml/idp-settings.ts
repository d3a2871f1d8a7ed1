import { readFileSync } from 'node:fs';
import { IdPMetadata } from 'samlify';
import type { IdpSource } from '../../../platform/config/config';
import { certBody } from './keys';

/** What the service provider needs to know of the identity provider. */
export interface IdpSettings {
  entityId: string;
  ssoUrl: string;
  sloUrl: string | null;
  /** Signing certificates (base64 bodies); several during a key rollover. */
  certs: string[];
}

/** Reads IdP metadata XML (as Shibboleth, SimpleSAMLphp, ADFS and Entra ID publish it). */
export function fromMetadata(xml: string, where: string): IdpSettings {
  let meta: ReturnType<typeof IdPMetadata>;
  try {
    meta = IdPMetadata(xml);
  } catch (e) {
    throw new Error(`the IdP metadata from ${where} could not be read: ${(e as Error).message}`);
  }
  const entityId = meta.getEntityID();
  const sso = meta.getSingleSignOnService('redirect');
  const slo = meta.getSingleLogoutService('redirect');
  const certs = [meta.getX509Certificate('signing')].flat().filter((c): c is string => typeof c === 'string' && !!c);
  const problems = [
    !entityId && 'no entityID',
    typeof sso !== 'string' && 'no SingleSignOnService with the HTTP-Redirect binding',
    !certs.length && 'no signing certificate',
  ].filter(Boolean);
  if (problems.length) throw new Error(`the IdP metadata from ${where} has ${problems.join(', ')}`);
  return {
    entityId,
    ssoUrl: sso as string,
    sloUrl: typeof slo === 'string' ? slo : null,
    certs: certs.map(certBody),
  };
}

/** Resolves the configured IdP; `dev` is answered by the caller (the built-in development IdP). */
export async function resolveIdp(source: IdpSource, dev: () => IdpSettings): Promise<IdpSettings | null> {
  switch (source.source) {
    case 'none':
      return null;
    case 'dev':
      return dev();
    case 'explicit':
      return { entityId: source.entityId, ssoUrl: source.ssoUrl, sloUrl: source.sloUrl ?? null, certs: source.certs };
    case 'metadata-file':
      return fromMetadata(readFileSync(source.path, 'utf8'), source.path);
    case 'metadata-url': {
      const res = await fetch(source.url, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`the IdP metadata at ${source.url} answered HTTP ${res.status}`);
      return fromMetadata(await res.text(), source.url);
    }
  }
}
