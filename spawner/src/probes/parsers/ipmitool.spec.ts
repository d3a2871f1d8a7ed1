import { fixtureLines } from './fixtures';
import { parseIpmitoolSdr } from './ipmitool';

describe('parseIpmitoolSdr', () => {
  it('reads a Supermicro board: temperatures, fans, and null for "no reading"', () => {
    const r = parseIpmitoolSdr(fixtureLines('ipmitool/supermicro-sdr-list-full.txt'));
    expect(r).toHaveLength(29);
    expect(r[0]).toEqual({
      source: 'ipmi',
      label: 'CPU1 Temp',
      kind: 'temperature',
      value: 29,
      unit: 'C',
      status: 'ok',
    });
    expect(r.find((s) => s.label === 'FAN1')).toMatchObject({ kind: 'fan', value: 3400, unit: 'RPM' });
    expect(r.find((s) => s.label === 'FAN3')).toMatchObject({ kind: 'fan', value: null, status: 'ns' });
    expect(r.find((s) => s.label === 'MB_10G Temp')).toMatchObject({ kind: 'temperature', value: null, status: 'ns' });
  });

  it('reads an HP DL380 G7: watts and percent fans, leaving out discrete 0x00 sensors', () => {
    const r = parseIpmitoolSdr(fixtureLines('ipmitool/hp-dl380-g7-sdr.txt'));
    expect(r).toHaveLength(24); // 28 lines less UID Light, Sys. Health LED, Power Supplies, Fans
    expect(r.find((s) => s.label === 'Power Supply 2')).toMatchObject({ kind: 'power', value: 155, unit: 'W' });
    expect(r.find((s) => s.label === 'Fan 1')).toMatchObject({ kind: 'other', value: 43.51, unit: '%' });
    expect(r.some((s) => s.label === 'Fans')).toBe(false);
  });

  it('reads `sdr elist` (five columns): Disabled is null, states are left out', () => {
    const r = parseIpmitoolSdr(fixtureLines('ipmitool/dell-idrac-sdr-elist-all.txt'));
    expect(r.find((s) => s.label === 'Ambient Temp' && s.value != null)).toMatchObject({ value: 19, status: 'ok' });
    expect(r.filter((s) => s.value == null && s.kind === 'temperature')).toHaveLength(10);
    expect(r.some((s) => s.label.endsWith(' PG'))).toBe(false);
  });
});
