import { fixtureLines } from './fixtures';
import { newXids, parseKernelLog, parseXidLines } from './kernel-log';

describe('parseXidLines on real kernel logs', () => {
  it('reads dmesg Xid lines with their uptime stamps (Bumblebee-Project/Bumblebee#677)', () => {
    expect(parseXidLines(fixtureLines('kernel/bumblebee-677-dmesg-xid-32-31.txt'))).toEqual([
      { uptimeS: 24128.828315, pci: '0:01:00', code: 32, text: 'Channel ID 00000000 intr 00004000' },
      { uptimeS: 24128.828608, pci: '0:01:00', code: 32, text: 'Channel ID 00000000 intr 00004000' },
      { uptimeS: 24128.834365, pci: '0:01:00', code: 31, text: 'Ch 00000003, engmask 00000101, intr 10000000' },
    ]);
  });

  it('reads `dmesg -T` lines (no uptime) and skips the lines that are not Xids (leptonai/gpud#46)', () => {
    const xids = parseXidLines(fixtureLines('kernel/gpud-46-dmesg-ctime-xid-13-109.txt'));
    expect(xids.map((x) => [x.code, x.pci, x.uptimeS])).toEqual([
      [13, '0:cb:00', null],
      [13, '0:cb:00', null],
      [13, '0:cb:00', null],
      [109, '0:cb:00', null],
    ]);
    expect(xids[3].text).toMatch(/CTX SWITCH TIMEOUT/);
  });

  it('tells the GPUs of an eight-GPU node apart in journal lines (NVIDIA/open-gpu-kernel-modules#1150)', () => {
    const xids = parseXidLines(fixtureLines('kernel/open-gpu-1150-journal-xid-45.txt'));
    expect(new Set(xids.map((x) => x.pci))).toEqual(new Set(['0:dc:00', '0:ed:00', '0:ba:00', '0:97:00']));
    expect(xids.every((x) => x.code === 45)).toBe(true);
  });
});

describe('newXids', () => {
  const section = (until: string, boot = 'b1') => [
    `boot_id ${boot}`,
    ...fixtureLines('kernel/bumblebee-677-dmesg-xid-32-31.txt'),
    `until ${until} some other kernel line`,
  ];

  it('reports every Xid the first time, then only those after where the previous probe read up to', () => {
    const log = parseKernelLog(section('[24130.000001]'));
    expect(log).toMatchObject({ bootId: 'b1', untilS: 24130.000001 });
    expect(newXids(log, null).map((x) => x.code)).toEqual([32, 32, 31]);
    expect(newXids(log, { bootId: 'b1', untilS: 24128.83 }).map((x) => x.code)).toEqual([31]);
    expect(newXids(log, { bootId: 'b1', untilS: 24130 })).toEqual([]);
  });

  it('counts everything again after a reboot (another boot id)', () => {
    const log = parseKernelLog(section('[24130.000001]', 'b2'));
    expect(newXids(log, { bootId: 'b1', untilS: 99999 }).map((x) => x.code)).toEqual([32, 32, 31]);
  });
});
