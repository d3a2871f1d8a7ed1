import { AlertInput, rigAlerts } from './rig-board.policy';

const NOW = new Date('2026-12-03T12:00:00Z');
const settings = { now: NOW, probeIntervalS: 30, diskMinFreePercent: 5, probeFailuresToDrain: 3 };
const healthy: AlertInput = {
  state: 'active',
  stateReason: 'in service',
  lastSeenAt: new Date(NOW.getTime() - 20_000),
  probeFailures: 0,
  lastChangeBy: 'admin',
  diskFreeMb: 50_000,
  diskTotalMb: 100_000,
  gpus: [{ index: 0, model: 'GTX 1070', healthy: true, healthReason: '' }],
  reliability: { score: 0.99, floor: 0.9, belowFloor: false },
};

describe('rigAlerts', () => {
  it('shows nothing for a healthy rig in service', () => {
    expect(rigAlerts(healthy, settings)).toEqual([]);
  });

  it('flags an engine silent for more than two probe intervals, critical while in service', () => {
    const silent = { ...healthy, lastSeenAt: new Date(NOW.getTime() - 61_000) };
    expect(rigAlerts(silent, settings)).toEqual([{ severity: 'critical', text: 'engine not seen for 1 min' }]);
    expect(rigAlerts({ ...silent, lastSeenAt: new Date(NOW.getTime() - 59_000) }, settings)).toEqual([]);
    expect(rigAlerts({ ...silent, state: 'maintenance', lastSeenAt: null }, settings)).toEqual([
      { severity: 'warning', text: 'engine never answered the portal' },
    ]);
  });

  it('names a quarantined GPU with its reason, and a failing probe', () => {
    const r = {
      ...healthy,
      probeFailures: 2,
      gpus: [{ index: 0, model: 'GTX 1070', healthy: false, healthReason: 'Xid 79: fell off the bus' }],
    };
    expect(rigAlerts(r, settings)).toEqual([
      { severity: 'critical', text: 'GPU 0 (GTX 1070) quarantined: Xid 79: fell off the bus' },
      { severity: 'warning', text: 'telemetry probe failing (2 in a row)' },
    ]);
    expect(rigAlerts({ ...healthy, probeFailures: 3 }, settings)[0].severity).toBe('critical');
  });

  it('warns as the disk fills and is critical below the floor', () => {
    expect(rigAlerts({ ...healthy, diskFreeMb: 8_000 }, settings)).toEqual([
      { severity: 'warning', text: 'disk filling up: 8.0% free' },
    ]);
    expect(rigAlerts({ ...healthy, diskFreeMb: 4_000 }, settings)).toEqual([
      { severity: 'critical', text: 'disk nearly full: 4.0% free' },
    ]);
  });

  it('says why a rule took the rig out: a failed burn-in, low reliability, a health rule', () => {
    expect(
      rigAlerts(
        {
          ...healthy,
          state: 'maintenance',
          stateReason: 'burn-in failed: disk: read back differs',
          lastChangeBy: 'rule:burn-in',
        },
        settings,
      ),
    ).toEqual([{ severity: 'critical', text: 'burn-in failed: disk: read back differs' }]);
    expect(rigAlerts({ ...healthy, reliability: { score: 0.8, floor: 0.9, belowFloor: true } }, settings)).toEqual([
      { severity: 'critical', text: 'reliability 0.80 below the floor of 0.90' },
    ]);
    expect(
      rigAlerts(
        { ...healthy, state: 'draining', stateReason: 'GPU 0 at 95 °C', lastChangeBy: 'rule:gpu-temperature' },
        settings,
      ),
    ).toEqual([{ severity: 'warning', text: 'drained by rule:gpu-temperature: GPU 0 at 95 °C' }]);
    // An admin's drain is the admin's business: no alert.
    expect(rigAlerts({ ...healthy, state: 'draining', lastChangeBy: 'admin' }, settings)).toEqual([]);
  });

  it('shows nothing for a retired rig', () => {
    expect(rigAlerts({ ...healthy, state: 'retired', lastSeenAt: null, probeFailures: 9 }, settings)).toEqual([]);
  });
});
