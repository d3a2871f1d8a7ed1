import type { INestApplicationContext } from '@nestjs/common';
import type { Command } from 'commander';
import { BurnInErrorCode } from '../modules/burn-in/burn-in.errors';
import type { BurnInRunView } from '../modules/burn-in/burn-in.policy';
import { BurnInService } from '../modules/burn-in/burn-in.service';
import { RigStateService } from '../modules/rigs/rig-state.service';
import type { Config } from '../platform/config/config';
import { CONFIG } from '../platform/config/config.module';
import { AppError } from '../platform/http/app-error';
import { table } from './output';

interface Deps {
  withApp: <T>(work: (app: INestApplicationContext) => Promise<T>) => Promise<T>;
  print: (text: string) => void;
}

const figures = (f: Record<string, number>) =>
  Object.entries(f)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

const checkRows = (run: BurnInRunView) =>
  run.checks.map((c) => ({ check: c.name, status: c.status, figures: figures(c.figures), detail: c.detail }));

/** One line per finished check, as `--wait` follows a run. */
const checkLine = (c: BurnInRunView['checks'][number]) =>
  `  ${c.name.padEnd(8)} ${c.status.padEnd(13)} ${c.detail}${Object.keys(c.figures).length ? ` [${figures(c.figures)}]` : ''}`;

/**
 * `riglab rig burn-in NAME --reason TEXT [--wait]` and `riglab rig burn-in-results NAME [--json]`.
 * The CLI has no job queue: the run it records is executed by a portal's worker, found by the
 * portal's sweep (RIG_BURNIN_SWEEP_INTERVAL_S); `--wait` follows it in Postgres until it ends.
 */
export function addBurnInCommands(rig: Command, { withApp, print }: Deps): void {
  rig
    .command('burn-in <name>')
    .description(
      'start burn-in (the way back from maintenance): a self-test run on the rig decides active or maintenance',
    )
    .requiredOption('--reason <text>', 'why (kept in the audit log and the rig history)')
    .option('--wait', 'follow the run until it ends; exit 1 when it fails')
    .action(async (name: string, o: { reason: string; wait?: boolean }) =>
      withApp(async (app) => {
        const r = await app.get(RigStateService).change(name, { to: 'burn-in', reason: o.reason }, { name: 'cli' });
        const burnIns = app.get(BurnInService);
        const [run] = await burnIns.runs(name);
        const sweepS = app.get<Config>(CONFIG).burnIn.sweepIntervalS;
        print(
          `rig ${name} is ${r.state}; burn-in run ${run.id} started (${run.checks.map((c) => c.name).join(', ')}); ` +
            `a portal picks it up within ${sweepS} s`,
        );
        if (!o.wait) return;
        const told = new Set<string>();
        let warned = false;
        const since = Date.now();
        for (;;) {
          const now = (await burnIns.runs(name)).find((x) => x.id === run.id)!;
          for (const c of now.checks)
            if (!told.has(c.name) && ['passed', 'failed', 'not-available'].includes(c.status)) {
              told.add(c.name);
              print(checkLine(c));
            }
          if (now.status !== 'running') {
            const rigNow = (await app.get(RigStateService).events(name)).at(-1)?.toState;
            if (now.status === 'passed') {
              print(`burn-in passed: rig ${name} is ${rigNow ?? 'active'}`);
              return;
            }
            throw new AppError(
              BurnInErrorCode.Failed,
              'conflict',
              `burn-in of rig ${name} ${now.status}: ${now.reason}; the rig is ${rigNow ?? 'unchanged'}`,
            );
          }
          if (!warned && now.progress.done === 0 && !now.progress.current && Date.now() - since > 2 * sweepS * 1000) {
            warned = true;
            print(`(no portal has begun the run after ${2 * sweepS} s: is one running with RUN_WORKERS=true?)`);
          }
          await new Promise((res) => setTimeout(res, 1000));
        }
      }),
    );
  rig
    .command('burn-in-results <name>')
    .description("a rig's burn-in runs, newest first: every check with what it measured or why it failed")
    .option('--json', 'print JSON')
    .action(async (name: string, o: { json?: boolean }) =>
      withApp(async (app) => {
        const runs = await app.get(BurnInService).runs(name);
        if (o.json) return print(JSON.stringify(runs, null, 2));
        if (!runs.length) return print(`rig ${name} has no burn-in runs`);
        const [last, ...earlier] = runs;
        print(
          `run ${last.id}: ${last.status} (started ${last.startedAt}${last.finishedAt ? `, finished ${last.finishedAt}` : ''}; ` +
            `${last.progress.done}/${last.progress.total} checks done${last.progress.current ? `, now ${last.progress.current}` : ''})` +
            (last.reason ? `\n${last.reason}` : ''),
        );
        print(table(checkRows(last), ['check', 'status', 'figures', 'detail']));
        if (earlier.length) {
          print('\nearlier runs:');
          print(
            table(
              earlier.map((r) => ({ ...r })),
              ['id', 'status', 'startedAt', 'finishedAt', 'reason'],
            ),
          );
        }
      }),
    );
}
