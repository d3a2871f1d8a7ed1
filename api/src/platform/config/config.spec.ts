import { ConfigError, loadConfig } from './config';

const good = {
  RIGLAB_ENV_FILE: '',
  DATABASE_URL: 'postgres://riglab:pw@127.0.0.1:5432/riglab',
  REDIS_URL: 'redis://127.0.0.1:6379',
  SESSION_SECRET: 'x'.repeat(32),
};

function problems(vars: Record<string, string | undefined>): string[] {
  try {
    loadConfig({ ...good, ...vars } as NodeJS.ProcessEnv);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe(loadConfig.name, () => {
  it('accepts a minimal valid environment and fills defaults', () => {
    const c = loadConfig(good);
    expect(c.port).toBe(8000);
    expect(c.env).toBe('production');
    expect(c.publicUrl).toBe('http://localhost:8000');
    expect(c.saml.idp).toEqual({ source: 'none' });
    expect(c.saml.spEntityId).toBe('http://localhost:8000/auth/saml/metadata');
  });

  it.each([
    ['DATABASE_URL', undefined, /DATABASE_URL: is required/],
    ['DATABASE_URL', 'mysql://x@y/z', /DATABASE_URL: must start with postgres/],
    ['DATABASE_URL', 'not a url', /DATABASE_URL: must be a URL/],
    ['REDIS_URL', undefined, /REDIS_URL: is required/],
    ['REDIS_URL', 'http://127.0.0.1:6379', /REDIS_URL: must start with redis/],
    ['SESSION_SECRET', undefined, /SESSION_SECRET: is required/],
    ['SESSION_SECRET', 'short', /SESSION_SECRET: must be at least 32 characters/],
    ['PORT', 'eighty', /PORT: must be a whole number/],
    ['PORT', '70000', /PORT: must be at most 65535/],
    ['PUBLIC_URL', 'lab.uni.example', /PUBLIC_URL: must be the URL/],
    ['RIGLAB_ENV', 'staging', /RIGLAB_ENV: must be production, development or test/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL: must be one of/],
    ['RUN_WORKERS', 'maybe', /RUN_WORKERS: must be true or false/],
    ['RIG_PROBE_TIMEOUT_MS', '5', /RIG_PROBE_TIMEOUT_MS: must be at least 100/],
    ['DEPLOYMENT_ID', 'Bad Prefix!', /DEPLOYMENT_ID: must be 1-40 characters/],
  ])('names %s when it is %p', (name, value, message) => {
    const found = problems({ [name]: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it('names every bad variable at once', () => {
    const found = problems({ DATABASE_URL: undefined, REDIS_URL: 'x', PORT: '-1' });
    expect(found.map((p) => p.split(':')[0]).sort()).toEqual(['DATABASE_URL', 'PORT', 'REDIS_URL']);
  });

  it('refuses the development identity provider in production', () => {
    expect(problems({ DEV_IDP: 'true', RIGLAB_ENV: 'production' })).toEqual([
      'DEV_IDP: the development identity provider may only run with RIGLAB_ENV=development or test',
    ]);
    expect(loadConfig({ ...good, DEV_IDP: 'true', RIGLAB_ENV: 'development' }).saml.idp).toEqual({ source: 'dev' });
  });

  it('needs the whole explicit IdP triple, and names what is missing', () => {
    expect(problems({ SAML_IDP_SSO_URL: 'https://idp.uni.example/sso' }).sort()).toEqual([
      'SAML_IDP_CERT: is required with SAML_IDP_SSO_URL (or give SAML_IDP_METADATA_FILE/URL)',
      'SAML_IDP_ENTITY_ID: is required with SAML_IDP_SSO_URL (or give SAML_IDP_METADATA_FILE/URL)',
    ]);
    expect(problems({ SAML_IDP_METADATA_FILE: 'no/such/idp.xml' })).toEqual([
      'SAML_IDP_METADATA_FILE: no such file: no/such/idp.xml',
    ]);
    expect(
      problems({ SAML_IDP_ENTITY_ID: 'https://idp', SAML_IDP_SSO_URL: 'https://idp/sso', SAML_IDP_CERT: 'nonsense' }),
    ).toEqual([expect.stringMatching(/^SAML_IDP_CERT: 'nonsense' is neither a PEM certificate/)]);
  });

  it('checks the course pattern compiles and names code, term and role', () => {
    expect(problems({ SAML_COURSE_PATTERN: '^course:(?<code>.+)$' })).toEqual([
      'SAML_COURSE_PATTERN: needs the named groups (?<code>…), (?<term>…) and (?<role>…); missing term, role',
    ]);
    expect(problems({ SAML_COURSE_PATTERN: '^(unclosed' })[0]).toMatch(
      /^SAML_COURSE_PATTERN: not a valid regular expression/,
    );
  });

  it('reads an env file beneath the real environment', () => {
    const { mkdtempSync, writeFileSync } = jest.requireActual<typeof import('node:fs')>('node:fs');
    const dir = mkdtempSync('/tmp/riglab-env-');
    writeFileSync(`${dir}/riglab.env`, 'PORT=9001\nREDIS_URL=redis://file:1\n');
    const c = loadConfig({ ...good, REDIS_URL: 'redis://env:2', RIGLAB_ENV_FILE: `${dir}/riglab.env` });
    expect(c.port).toBe(9001);
    expect(c.redisUrl).toBe('redis://env:2');
  });
});
