import { useState, type FormEvent } from 'react';
import { ApiError, api, errorText, type NewRigInput, type RigDiscovery, type RigInventory } from '../api';
import { Link } from '../router';
import { ErrorMessage, formatDate } from '../ui';

const mb = (v: number | null) => (v === null ? '—' : `${v.toLocaleString()} MiB`);
const pcie = (a: number | null, b: number | null, prefix = '') =>
  a === null ? '—' : `${prefix}${a} of ${prefix}${b ?? '?'}`;

/** What discovery found on a rig: engine, CPUs, memory, disk, GPUs and what could not be read. */
export function InventoryFacts({ inventory: inv }: { inventory: RigInventory }) {
  return (
    <>
      <dl className="facts">
        <dt>Discovered</dt>
        <dd>{formatDate(inv.discoveredAt)}</dd>
        <dt>Docker</dt>
        <dd>
          {inv.engine.version ?? '—'} on {inv.engine.os ?? 'unknown OS'}
          {inv.engine.kernel ? `, kernel ${inv.engine.kernel}` : ''}
          {inv.engine.runtimes.length ? ` (runtimes: ${inv.engine.runtimes.join(', ')})` : ''}
        </dd>
        <dt>CPUs</dt>
        <dd>{inv.cpus ?? '—'}</dd>
        <dt>Memory</dt>
        <dd>{mb(inv.memoryMb)}</dd>
        <dt>Disk</dt>
        <dd>
          {mb(inv.diskFreeMb)} free of {mb(inv.diskTotalMb)}
          {inv.engine.dockerRootDir ? <span className="muted"> at {inv.engine.dockerRootDir}</span> : null}
        </dd>
        <dt>GPUs</dt>
        <dd>{inv.gpus.length ? `${inv.gpus.length} found` : 'none found'}</dd>
      </dl>
      {inv.gpus.length ? (
        <table className="table">
          <thead>
            <tr>
              <th>GPU</th>
              <th>VRAM</th>
              <th>Driver</th>
              <th>PCIe gen</th>
              <th>PCIe width</th>
              <th>Device</th>
            </tr>
          </thead>
          <tbody>
            {inv.gpus.map((g) => (
              <tr key={g.index}>
                <td>
                  {g.index}: {g.model ?? 'unknown model'}
                </td>
                <td>{mb(g.vramMb)}</td>
                <td>
                  {g.driver} {g.driverVersion ?? ''}
                </td>
                <td>{pcie(g.pcieGen, g.pcieGenMax)}</td>
                <td>{pcie(g.pcieWidth, g.pcieWidthMax, 'x')}</td>
                <td className="mono small">{g.deviceIds.join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {inv.notAvailable.length ? (
        <details>
          <summary className="muted small">Not available on this rig ({inv.notAvailable.length})</summary>
          <ul className="small">
            {inv.notAvailable.map((n, i) => (
              <li key={i}>
                {n.source}: {n.why}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </>
  );
}

const optionalInt = (v: string) => (v.trim() === '' ? undefined : Number(v));

/** Campus IT registers a rig: the connection is tested, the inventory discovered, and both shown. */
export function RigAddPage({ onUnauthorized }: { onUnauthorized: () => void }) {
  const [form, setForm] = useState({
    name: '',
    endpoint: '',
    ca: '',
    cert: '',
    key: '',
    cpus: '',
    memoryMb: '',
    offline: false,
    gpus: true,
  });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<RigDiscovery | null>(null);
  const set = (k: keyof typeof form) => (e: { target: HTMLInputElement }) =>
    setForm({ ...form, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const tlsGiven = [form.ca, form.cert, form.key].filter((v) => v.trim()).length;
    if (tlsGiven !== 0 && tlsGiven !== 3) {
      setError('Give all three TLS files (CA, certificate and key), or none.');
      return;
    }
    const body: NewRigInput = {
      name: form.name.trim(),
      endpoint: form.endpoint.trim(),
      ...(tlsGiven ? { tls: { ca: form.ca.trim(), cert: form.cert.trim(), key: form.key.trim() } } : {}),
      cpus: optionalInt(form.cpus),
      memoryMb: optionalInt(form.memoryMb),
      offline: form.offline || undefined,
      gpus: form.gpus,
    };
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await api.addRig(body));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) onUnauthorized();
      else setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="add-rig-heading">
      <nav className="breadcrumb" aria-label="Breadcrumb">
        <Link href="/rigs">Rigs</Link> / add
      </nav>
      <h1 id="add-rig-heading">Add a rig</h1>
      <p className="muted">
        The portal tests the connection to the rig's Docker engine, discovers its CPUs, memory, disk and GPUs, and
        registers it as <em>registered</em>: run its burn-in to put it into service.
      </p>
      <form className="form card" onSubmit={(e) => void submit(e)} aria-label="Add a rig">
        <fieldset disabled={busy}>
          <div className="field-row">
            <label className="field">
              Name
              <input
                value={form.name}
                onChange={set('name')}
                required
                pattern="[a-z0-9][a-z0-9\-]{0,62}"
                placeholder="rig-07"
              />
              <span className="hint">a-z, 0-9 and '-', up to 63 characters</span>
            </label>
            <label className="field grow">
              Docker endpoint
              <input
                value={form.endpoint}
                onChange={set('endpoint')}
                required
                placeholder="tcp://rig-07.lab.example:2376 or unix:///var/run/docker.sock"
              />
            </label>
          </div>
          <fieldset className="field-row">
            <legend>TLS client files on the portal host (for tcp://; relative paths are under RIG_TLS_DIR)</legend>
            <label className="field">
              CA certificate
              <input value={form.ca} onChange={set('ca')} placeholder="rig-07/ca.pem" />
            </label>
            <label className="field">
              Client certificate
              <input value={form.cert} onChange={set('cert')} placeholder="rig-07/cert.pem" />
            </label>
            <label className="field">
              Client key
              <input value={form.key} onChange={set('key')} placeholder="rig-07/key.pem" />
            </label>
          </fieldset>
          <div className="field-row">
            <label className="field">
              CPUs for labs
              <input
                type="number"
                min={1}
                max={1024}
                value={form.cpus}
                onChange={set('cpus')}
                placeholder="found − reserve"
              />
            </label>
            <label className="field">
              Memory for labs (MiB)
              <input
                type="number"
                min={256}
                value={form.memoryMb}
                onChange={set('memoryMb')}
                placeholder="found − reserve"
              />
            </label>
          </div>
          <label className="check">
            <input type="checkbox" checked={form.gpus} onChange={set('gpus')} /> Register the GPUs found (one slot each)
          </label>
          <label className="check">
            <input type="checkbox" checked={form.offline} onChange={set('offline')} /> Register even if the engine does
            not answer (discover later)
          </label>
          <div className="button-row">
            <button type="submit" className="btn btn-primary">
              {busy ? 'Testing the connection…' : 'Test and add rig'}
            </button>
          </div>
        </fieldset>
      </form>
      {error ? <ErrorMessage message={error} title="Rig not added:" /> : null}
      {result ? <Registered result={result} /> : null}
    </section>
  );
}

function Registered({ result: r }: { result: RigDiscovery }) {
  return (
    <div className="card" aria-label="Registration result">
      <h2>
        Rig <Link href={`/rigs/${encodeURIComponent(r.name)}`}>{r.name}</Link> registered
      </h2>
      {r.connection.ok ? (
        <div className="alert alert-ok" role="status">
          Connection test passed: the engine at <span className="mono">{r.connection.endpoint}</span> answered (Docker{' '}
          {r.connection.version}, API {r.connection.apiVersion}) in {r.connection.latencyMs} ms.
        </div>
      ) : (
        <div className="alert alert-warn" role="status">
          Connection test failed: {r.connection.error}. Registered offline; discover its inventory from the rig's page
          once the engine answers.
        </div>
      )}
      <p>
        State <span className={`badge state-${r.state}`}>{r.state}</span> — {r.stateReason}
      </p>
      <p>
        Labs may use <strong>{r.cpus} CPUs</strong> and <strong>{r.memoryMb.toLocaleString()} MiB</strong>.
        {r.gpusAdded.length
          ? ` Registered ${r.gpusAdded.length} GPU(s): ${r.gpusAdded.map((g) => `${g.index} ${g.model}`).join(', ')}.`
          : ''}
      </p>
      {r.gpusSkipped.length ? (
        <ul className="small">
          {r.gpusSkipped.map((s) => (
            <li key={s}>{s}</li>
          ))}
        </ul>
      ) : null}
      {r.inventory ? <InventoryFacts inventory={r.inventory} /> : null}
    </div>
  );
}
