import type { INestApplicationContext } from '@nestjs/common';
import { Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../modules/rigs/rig-lifecycle.policy';
import { rigEventView, RigStateService } from '../modules/rigs/rig-state.service';
import { RigState } from '../modules/rigs/rig.entity';
import { addBurnInCommands } from './burn-in-commands';
import { addReliabilityCommand } from './reliability-commands';
import { table } from './output';

/** What the rig lifecycle commands borrow from main.ts. */
export interface RigCliDeps {
  withApp: <T>(work: (app: INestApplicationContext) => Promise<T>) => Promise<T>;
  print: (text: string) => void;
}

const durationArg = (v: string) => {
  const ms = parseDuration(v);
  if (ms === null) throw new InvalidArgumentError(`--deadline must be a duration such as 90s, 30m or 2h (got '${v}')`);
  return ms;
};

/**
 * `riglab rig drain|maintenance|retire|burn-in|activate NAME --reason TEXT [--deadline 30m]` and
 * `riglab rig events NAME`, added to the existing `rig` command (`burn-in` and `burn-in-results`:
 * burn-in-commands.ts). Labs on a rig drained here are
 * warned and stopped by the portal's drain job (RIG_DRAIN_CHECK_INTERVAL_S).
 */
export function addRigCommands(program: Command, { withApp, print }: RigCliDeps): void {
  const rig = program.commands.find((c) => c.name() === 'rig') ?? program.command('rig');
  const verbs: Array<[string, RigState, string]> = [
    ['drain', 'draining', 'take no new labs; running ones may finish until the deadline (the rig stays drained)'],
    ['maintenance', 'maintenance', 'drain the rig, then hold it in maintenance'],
    ['retire', 'retired', 'drain the rig, then retire it for good (its history is kept)'],
    ['activate', 'active', 'put the rig (back) into the pool'],
  ];
  for (const [verb, to, description] of verbs) {
    rig
      .command(`${verb} <name>`)
      .description(description)
      .requiredOption('--reason <text>', 'why (kept in the audit log and the rig history)')
      .option('--deadline <duration>', 'how long running labs may go on: 90s, 30m, 2h', durationArg)
      .action(async (name: string, o: { reason: string; deadline?: number }) =>
        withApp(async (app) => {
          const r = await app
            .get(RigStateService)
            .change(name, { to, reason: o.reason, deadlineMs: o.deadline }, { name: 'cli' });
          print(
            r.state === 'draining'
              ? `rig ${name} is draining${r.drainTarget ? ` (then ${r.drainTarget})` : ''}; running labs stop at ${r.drainDeadline?.toISOString()}`
              : `rig ${name} is ${r.state}`,
          );
        }),
      );
  }
  addBurnInCommands(rig, { withApp, print });
  addReliabilityCommand(rig, { withApp, print });
  rig
    .command('events <name>')
    .description("a rig's history: every state change, who made it and why")
    .option('--json', 'print JSON')
    .action(async (name: string, o: { json?: boolean }) =>
      withApp(async (app) => {
        const rows = (await app.get(RigStateService).events(name)).map(rigEventView);
        print(
          o.json
            ? JSON.stringify(rows, null, 2)
            : table(
                rows.map((e) => ({ ...e, at: e.at.toISOString(), from: e.from ?? '-' })),
                ['at', 'from', 'to', 'actor', 'reason'],
              ),
        );
      }),
    );
}
