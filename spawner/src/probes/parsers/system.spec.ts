import { TelemetryParseError } from './errors';
import { parseDf, parseLoadavg, parseMeminfo, parseNproc } from './system';

describe('system parsers', () => {
  it('reads load, CPUs, memory and disk', () => {
    expect(parseLoadavg(['0.05 0.98 1.56 2/116 2053'])).toBe(0.05);
    expect(parseNproc(['16'])).toBe(16);
    expect(
      parseMeminfo(['MemTotal:       16303944 kB', 'MemFree:         1000000 kB', 'MemAvailable:   8151972 kB']),
    ).toEqual({
      memoryTotalMb: 15922,
      memoryAvailableMb: 7961,
    });
    expect(parseMeminfo(['MemTotal: 2048 kB']).memoryAvailableMb).toBeNull();
    expect(
      parseDf([
        'Filesystem           1024-blocks    Used Available Capacity Mounted on',
        '/dev/sda1   my disk  61255652 20000000  38128548  34% /rig/data-root',
      ]),
    ).toEqual({ diskTotalMb: 59820, diskFreeMb: 37235 });
  });

  it('says which source was unreadable and what it got', () => {
    expect(() => parseLoadavg(['garbage'])).toThrow(TelemetryParseError);
    expect(() => parseLoadavg(['garbage'])).toThrow(
      'loadavg: expected "1m 5m 15m running/total lastpid", got \'garbage\'',
    );
    expect(() => parseNproc(['0'])).toThrow("nproc: expected a CPU count, got '0'");
    expect(() => parseMeminfo(['MemFree: 1 kB'])).toThrow('meminfo: no MemTotal line');
    expect(() => parseDf(['df: /rig/data-root: No such file or directory'])).toThrow(
      /^df: expected the header of 'df -P -k'/,
    );
  });
});
