import { TelemetryParseError } from './errors';
import { fixture } from './fixtures';
import { parseNvidiaSmiCsv } from './nvidia-smi';

describe('parseNvidiaSmiCsv on real captures', () => {
  it('reads a Tesla P100 by header name, strips units, and gives null for its [N/A] fan', () => {
    const [gpu] = parseNvidiaSmiCsv(fixture('nvidia/tesla-p100-header.csv'));
    expect(gpu).toMatchObject({
      index: 0,
      id: 'GPU-ef1b2c9b-38d8-2090-2bd1-f567a3eb42a6',
      model: 'Tesla P100-PCIE-16GB',
      driver: 'nvidia',
      fanPercent: null,
      memoryUsedMb: 0,
      utilizationPercent: 0,
      temperatureC: 37,
      powerW: 28.16,
      smClockMhz: 405,
      memoryClockMhz: 715,
      memoryTotalMb: null, // not queried
      throttleReasons: null,
    });
  });

  it('reads an RTX 2080 on 440.64 (noheader, nounits) with the fields it was queried with', () => {
    const fields =
      'power.limit,power.min_limit,power.max_limit,memory.total,vbios_version,driver_version,name,gpu_uuid,power.draw,temperature.gpu,temperature.memory,clocks.current.graphics,clocks.sm,clocks.mem,utilization.gpu,utilization.memory,fan.speed,pcie.link.width.current,pstate'.split(
        ',',
      );
    const [gpu] = parseNvidiaSmiCsv(fixture('nvidia/rtx2080-440.64-noheader-nounits.csv'), { fields });
    expect(gpu).toMatchObject({
      model: 'GeForce RTX 2080',
      id: 'GPU-22b2c6ac-2d49-4863-197c-9c469071178a',
      driverVersion: '440.64',
      powerLimitW: 200,
      powerW: 176.98,
      memoryTotalMb: 7979,
      temperatureC: 45,
      smClockMhz: 1965,
      memoryClockMhz: 7199,
      utilizationPercent: 86,
      fanPercent: 100,
      pcieWidth: 8,
      pcieGen: null,
    });
  });

  it('gives null for every [Not Supported] field of a GTX 770 and keeps its "52 %" fan as 52', () => {
    const fields =
      'gpu_name,utilization.gpu,utilization.memory,temperature.gpu,power.draw,power.limit,fan.speed,pstate,clocks.current.graphics,clocks.current.memory,power.max_limit,power.default_limit'.split(
        ',',
      );
    const [gpu] = parseNvidiaSmiCsv(fixture('nvidia/gtx770-noheader.csv'), { fields });
    expect(gpu).toMatchObject({
      model: 'GeForce GTX 770',
      temperatureC: 52,
      fanPercent: 52,
      utilizationPercent: null,
      powerW: null,
      powerLimitW: null,
      smClockMhz: null,
      memoryClockMhz: null,
    });
    expect(gpu.id).toBe('nvidia:0');
  });

  it('reads the same laptop GPU alike whether its driver says [N/A] or [Not Supported]', () => {
    const fields =
      'memory.total,memory.free,memory.used,temperature.gpu,fan.speed,utilization.gpu,utilization.memory'.split(',');
    const newer = parseNvidiaSmiCsv(fixture('nvidia/2gb-laptop-new-driver-nounits.csv'), { fields });
    const older = parseNvidiaSmiCsv(fixture('nvidia/2gb-laptop-old-driver-nounits.csv'), { fields });
    expect(newer).toEqual(older);
    expect(newer[0]).toMatchObject({
      memoryTotalMb: 2004,
      memoryUsedMb: 0,
      temperatureC: 44,
      fanPercent: null,
      utilizationPercent: 0,
    });
  });
});

describe('parseNvidiaSmiCsv on the probe query', () => {
  const header =
    'index, uuid, name, driver_version, pci.bus_id, temperature.gpu, fan.speed [%], power.draw [W], power.limit [W], memory.used [MiB], memory.total [MiB], utilization.gpu [%], clocks.sm [MHz], clocks.mem [MHz], clocks_throttle_reasons.active, pcie.link.gen.current, pcie.link.gen.max, pcie.link.width.current, pcie.link.width.max';

  it('names the active throttle reasons from the bitmask, and [] when none', () => {
    const csv = `${header}\n0, GPU-a, NVIDIA GeForce GTX 1070, 535.183.01, 00000000:01:00.0, 83, 100 %, 149.50 W, 150.00 W, 4000 MiB, 8192 MiB, 99 %, 1506 MHz, 3802 MHz, 0x0000000000000044, 1, 3, 1, 16\n1, GPU-b, NVIDIA GeForce GTX 1070, 535.183.01, 00000000:02:00.0, 60, 50 %, 100.00 W, 150.00 W, 4000 MiB, 8192 MiB, 99 %, 1900 MHz, 3802 MHz, 0x0000000000000000, 3, 3, 16, 16`;
    const [hot, cool] = parseNvidiaSmiCsv(csv);
    expect(hot.throttleReasons).toEqual(['sw_power_cap', 'hw_thermal_slowdown']);
    expect(hot).toMatchObject({
      pcieGen: 1,
      pcieGenMax: 3,
      pcieWidth: 1,
      pcieWidthMax: 16,
      pciBusId: '00000000:01:00.0',
      powerLimitW: 150,
    });
    expect(cool.throttleReasons).toEqual([]);
    expect(cool.index).toBe(1);
  });

  it('reads per-reason throttle fields ("Active" / "Not Active")', () => {
    const csv =
      'index, clocks_throttle_reasons.hw_slowdown, clocks_throttle_reasons.sw_thermal_slowdown\n0, Active, Not Active';
    expect(parseNvidiaSmiCsv(csv)[0].throttleReasons).toEqual(['hw_slowdown']);
  });

  it('says what was wrong for output that is not a CSV of query fields', () => {
    const err = (() => {
      try {
        parseNvidiaSmiCsv("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.");
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(TelemetryParseError);
    expect((err as Error).message).toMatch(
      /^nvidia-smi: expected a CSV header of query fields, got 'NVIDIA-SMI has failed/,
    );
    expect(() => parseNvidiaSmiCsv('index, name\n0')).toThrow("nvidia-smi: line 1 has 1 values for 2 fields: '0'");
  });
});
