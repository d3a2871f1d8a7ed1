import type { Command } from 'commander';
import { ReliabilityService } from '../modules/rig-health/reliability.service';
import { table } from './output';
import type { RigCliDeps } from './rig-commands';

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/**
 * `riglab rig reliability [--json]`: every rig's score and each GPU's, measured now over the rig's
 * window, as GET /api/rigs/reliability answers.
 */
export function addReliabilityCommand(rig: Command, { withApp, print }: RigCliDeps): void {
  rig
    .command('reliability')
    .description('reliability scores of every rig and GPU (availability, failed launches, faults per day)')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) =>
      withApp(async (app) => {
        const rigs = await app.get(ReliabilityService).all();
        if (o.json) return print(JSON.stringify(rigs, null, 2));
        const rows = rigs.flatMap((r) => [
          {
            rig: r.rig,
            score: r.score.toFixed(3),
            up: pct(r.availability),
            launches: `${r.launches - r.failedLaunches}/${r.launches} ok`,
            faults: `${r.faults} (${r.faultsPerDay.toFixed(2)}/day)`,
            // Why a low score did not (or did) take the rig out of the pool.
            verdict: !r.judged ? 'not judged yet' : r.belowFloor ? `below ${r.floor}` : 'ok',
            since: r.windowStart,
          },
          ...r.gpus.map((g) => ({
            rig: `  gpu ${g.index} ${g.model}`,
            score: g.score.toFixed(3),
            up: pct(g.availability),
            launches: `${g.launches - g.failedLaunches}/${g.launches} ok`,
            faults: `${g.faults} (${g.faultsPerDay.toFixed(2)}/day)`,
            verdict: '',
            since: '',
          })),
        ]);
        print(table(rows, ['rig', 'score', 'up', 'launches', 'faults', 'verdict', 'since']));
      }),
    );
}
