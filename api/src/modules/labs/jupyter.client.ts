import { request } from 'node:http';

// The portal's own calls to a lab's Jupyter server (readiness, kernel activity). Every call has a
// timeout: a container that accepts TCP and never answers must not hang a job (ENVIRONMENT.md).

export interface JupyterTarget {
  /** `http://ip:port` */
  endpoint: string;
  /** `/user/<name>/<lab>/` */
  baseUrl: string;
  token: string;
}

function getJson<T>(t: JupyterTarget, path: string, timeoutMs: number): Promise<{ status: number; body: T | null }> {
  const url = new URL(`${t.baseUrl.replace(/\/$/, '')}/${path}`, t.endpoint);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'GET', headers: { Authorization: `token ${t.token}` }, timeout: timeoutMs },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: data ? (JSON.parse(data) as T) : null });
          } catch {
            resolve({ status: res.statusCode ?? 0, body: null });
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Polls `api/status` until Jupyter answers 200 or the deadline passes. */
export async function waitForJupyter(
  t: JupyterTarget,
  deadline: number,
  isCancelled: () => Promise<boolean>,
): Promise<void> {
  let lastError = 'not answering yet';
  while (Date.now() < deadline) {
    try {
      const res = await getJson(t, 'api/status', Math.min(2000, Math.max(100, deadline - Date.now())));
      if (res.status === 200) return;
      lastError = `answered HTTP ${res.status}`;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (await isCancelled()) throw new Error('the launch was cancelled');
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Jupyter did not start in time (${lastError})`);
}

export interface KernelActivity {
  busy: boolean;
  lastActivity: Date | null;
}

/** Whether any kernel is busy, and Jupyter's own last activity time. */
export async function kernelActivity(t: JupyterTarget, timeoutMs = 5000): Promise<KernelActivity> {
  const [kernels, status] = await Promise.all([
    // no_track_activity: the culler's own look must not count as the student's activity.
    getJson<Array<{ execution_state: string; last_activity: string }>>(t, 'api/kernels?no_track_activity=1', timeoutMs),
    getJson<{ last_activity: string }>(t, 'api/status?no_track_activity=1', timeoutMs),
  ]);
  if (kernels.status !== 200 || !Array.isArray(kernels.body)) throw new Error(`kernels: HTTP ${kernels.status}`);
  const times = [status.body?.last_activity, ...kernels.body.map((k) => k.last_activity)]
    .filter(Boolean)
    .map((s) => new Date(s as string).getTime());
  return {
    busy: kernels.body.some((k) => k.execution_state === 'busy'),
    lastActivity: times.length ? new Date(Math.max(...times)) : null,
  };
}
