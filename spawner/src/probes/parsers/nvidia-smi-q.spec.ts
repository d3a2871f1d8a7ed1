import { fixtureLines } from './fixtures';
import { parseNvidiaSmiQuery, pciKey, slowdownOfLine } from './nvidia-smi-q';

describe('parseNvidiaSmiQuery on real `nvidia-smi -q` reports', () => {
  it('reads the replay counter of an RTX 4070 Laptop GPU (566.36) and no absolute slowdown from its T.Limit lines', () => {
    expect(parseNvidiaSmiQuery(fixtureLines('nvidia-q/rtx4070-laptop-566.36-q.txt'))).toEqual([
      { pci: '0:01:00', replays: 0, slowdownTempC: null },
    ]);
  });

  it('reads both GPUs of a TITAN Z (369.30), whose driver spells "Replays since reset" and short bus ids', () => {
    expect(parseNvidiaSmiQuery(fixtureLines('nvidia-q/titan-z-369.30-q-two-gpus.txt'))).toEqual([
      { pci: '0:06:00', replays: 0, slowdownTempC: null }, // this report was cut before its Temperature block
      { pci: '0:07:00', replays: 0, slowdownTempC: null },
    ]);
  });

  it('reads the same from the lines the probe keeps of the report (grep of GPU headers, replays, slowdown)', () => {
    const kept = fixtureLines('nvidia-q/rtx4070-laptop-566.36-q.txt').filter((l) =>
      /^GPU |Replays [Ss]ince [Rr]eset|GPU Slowdown/.test(l),
    );
    expect(kept).toHaveLength(3);
    expect(parseNvidiaSmiQuery(kept)).toEqual([{ pci: '0:01:00', replays: 0, slowdownTempC: null }]);
  });

  it('takes absolute slowdown lines as posted from real cards, and refuses relative or missing ones', () => {
    // NVIDIA/nvidia-docker#564 and NVIDIA/k8s-device-plugin#331, as posted.
    expect(slowdownOfLine('        GPU Slowdown Temp           : 96 C')).toBe(96);
    expect(slowdownOfLine('        GPU Slowdown Temp           : 93 C')).toBe(93);
    expect(slowdownOfLine('        GPU Slowdown T.Limit Temp         : -2 C')).toBeNull();
    expect(slowdownOfLine('        GPU Slowdown Temp           : N/A')).toBeNull();
  });
});

describe('pciKey', () => {
  it('gives one key for the spellings of the CSV, old and new -q reports and the kernel log', () => {
    expect(pciKey('00000000:01:00.0')).toBe('0:01:00');
    expect(pciKey('0000:01:00.0')).toBe('0:01:00');
    expect(pciKey('PCI:0000:01:00')).toBe('0:01:00');
    expect(pciKey('00000000:CB:00.0')).toBe(pciKey('PCI:0000:cb:00'));
    expect(pciKey('PCI:0019:01:00')).toBe('25:01:00');
    expect(pciKey('not a bus id')).toBeNull();
    expect(pciKey(null)).toBeNull();
  });
});
