import { fixture } from './fixtures';
import { parseProbeOutput, TelemetryParseError } from './index';

const probe = (body: string) => `@@riglab probe 1\n${body}\n@@riglab end\n`;

describe('parseProbeOutput', () => {
  it('assembles a sample from every section, with the missing sources and why', () => {
    const out = probe(
      [
        '@@riglab section nproc',
        '4',
        '@@riglab section loadavg',
        '1.50 0.98 1.56 2/116 2053',
        '@@riglab section meminfo',
        'MemTotal: 4194304 kB',
        'MemAvailable: 2097152 kB',
        '@@riglab section df',
        'Filesystem 1024-blocks Used Available Capacity Mounted on',
        'overlay 10485760 5242880 5242880 50% /rig/data-root',
        '@@riglab section hwmon',
        fixture('hwmon/nct6779-asrock-ab350-fans-assembled.txt'),
        '@@riglab section amd',
        fixture('amd/amdgpu-pci-1e00-assembled.txt'),
        '@@riglab missing nvidia-smi not available in the probe (no NVIDIA runtime or GPUs on this rig)',
        '@@riglab section ipmitool',
        fixture('ipmitool/hp-dl380-g7-sdr.txt'),
      ].join('\n'),
    );
    const s = parseProbeOutput(out, '2026-12-03T10:00:00.000Z');
    expect(s).toMatchObject({
      at: '2026-12-03T10:00:00.000Z',
      load1: 1.5,
      cpus: 4,
      memoryTotalMb: 4096,
      memoryAvailableMb: 2048,
      diskTotalMb: 10240,
      diskFreeMb: 5120,
    });
    expect(s.gpus).toHaveLength(1);
    expect(s.gpus[0]).toMatchObject({ driver: 'amd', temperatureC: 57 });
    expect(s.sensors.filter((r) => r.source === 'nct6779')).toHaveLength(5);
    expect(s.sensors.filter((r) => r.source === 'ipmi')).toHaveLength(24);
    expect(s.notAvailable).toEqual([
      { source: 'nvidia-smi', why: 'not available in the probe (no NVIDIA runtime or GPUs on this rig)' },
    ]);
  });

  it('adds the replay counter from `nvidia-smi -q` and only new Xids from the kernel log to the GPU at that address', () => {
    // The CSV row is written for this test (one GPU at 01:00.0); the -q report and the Xid lines are
    // real captures that happen to name a GPU at that address.
    const out = probe(
      [
        '@@riglab section nvidia-smi',
        'index, uuid, name, pci.bus_id, temperature.gpu',
        '0, GPU-1b724e78-eef5-4163-d43c-e4da15d41176, NVIDIA GeForce RTX 4070 Laptop GPU, 00000000:01:00.0, 42',
        '@@riglab exit 0',
        '@@riglab section nvidia-smi-q',
        fixture('nvidia-q/rtx4070-laptop-566.36-q.txt'),
        '@@riglab section kernel',
        'boot_id 5d1f0a4e-0000-4000-8000-000000000001',
        fixture('kernel/bumblebee-677-dmesg-xid-32-31.txt'),
        'until [24200.5] e1000e: eno1 NIC Link is Up',
      ].join('\n'),
    );
    const first = parseProbeOutput(out);
    expect(first.gpus[0]).toMatchObject({ index: 0, pcieReplays: 0, slowdownTempC: null, xids: [32, 32, 31] });
    expect(first.kernelLog).toEqual({ bootId: '5d1f0a4e-0000-4000-8000-000000000001', untilS: 24200.5 });
    // The next probe of the same boot has read up to 24200.5: the same lines are no news.
    expect(parseProbeOutput(out, undefined, first.kernelLog).gpus[0].xids).toEqual([]);
  });

  it('turns a failing nvidia-smi into a reason, keeping the rest of the sample', () => {
    const s = parseProbeOutput(
      probe(
        "@@riglab section nproc\n2\n@@riglab section nvidia-smi\nNVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n@@riglab exit 9",
      ),
    );
    expect(s.cpus).toBe(2);
    expect(s.gpus).toEqual([]);
    expect(s.notAvailable).toEqual([
      {
        source: 'nvidia-smi',
        why: "unreadable output: exited with 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
      },
    ]);
  });

  it('says when the probe was cut off, and refuses output that is not from the probe', () => {
    const s = parseProbeOutput('@@riglab probe 1\n@@riglab section nproc\n8\n');
    expect(s.cpus).toBe(8);
    expect(s.notAvailable).toContainEqual({
      source: 'probe',
      why: 'the probe stopped before its end (cut off by its time budget)',
    });
    expect(() => parseProbeOutput('exec /probe.sh: no such file or directory')).toThrow(TelemetryParseError);
    expect(() => parseProbeOutput('')).toThrow(
      "probe: the output is not from the riglab probe (it starts with '(empty output)')",
    );
  });
});
