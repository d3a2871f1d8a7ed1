import { parseEndpoint, probeEngine } from './engine';

describe(parseEndpoint.name, () => {
  const tls = { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' };
  it('reads unix sockets and TCP with TLS', () => {
    expect(parseEndpoint({ url: 'unix:///var/run/docker.sock' })).toEqual({
      kind: 'unix',
      socketPath: '/var/run/docker.sock',
    });
    expect(parseEndpoint({ url: 'tcp://rig7.lab.example:2376', tls })).toEqual({
      kind: 'tcp',
      host: 'rig7.lab.example',
      port: 2376,
    });
    expect(parseEndpoint({ url: 'tcp://[fd00::7]:2376', tls })).toEqual({ kind: 'tcp', host: 'fd00::7', port: 2376 });
  });
  it.each([
    ['tcp://rig7:2376', undefined, /give TLS client certificates/],
    ['unix://relative.sock', undefined, /absolute socket path/],
    ['http://rig7:2375', tls, /not a Docker endpoint/],
    ['tcp://rig7:99999', tls, /invalid port/],
  ])('refuses %s with a reason', (url, t, why) => expect(() => parseEndpoint({ url, tls: t })).toThrow(why));
});

describe(probeEngine.name, () => {
  it('reports a real engine up with its version', async () => {
    const probe = await probeEngine({ url: process.env.RIGLAB_TEST_DOCKER_HOST! }, 5000);
    expect(probe).toMatchObject({ up: true, version: expect.stringMatching(/^\d+\.\d+/) });
  });
  it('reports a missing socket down in plain words, without throwing', async () => {
    const probe = await probeEngine({ url: 'unix:///tmp/riglab-no-such-engine.sock' }, 2000);
    expect(probe).toMatchObject({ up: false, error: 'socket not found (is the Docker engine running?)' });
  });
});
