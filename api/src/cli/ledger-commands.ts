import type { INestApplicationContext } from '@nestjs/common';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { LedgerAdminService } from '../modules/ledger/ledger-admin.service';
import { parseExport } from '../modules/ledger/ledger-export';
import type { ExportFormat } from '../modules/ledger/ledger.dto';
import { LedgerErrorCode } from '../modules/ledger/ledger.errors';
import { ChainResult, verifyChain } from '../modules/ledger/ledger.policy';
import { LedgerService } from '../modules/ledger/ledger.service';
import { AppError } from '../platform/http/app-error';
import { table } from './output';

/** What the ledger commands borrow from main.ts. */
export interface LedgerCliDeps {
  withApp: <T>(work: (app: INestApplicationContext) => Promise<T>) => Promise<T>;
  print: (text: string) => void;
  /** An error for a command line that makes no sense as given (exit 2). */
  usageError: (message: string) => Error;
}

const amountArg = (name: string) => (v: string) => {
  const n = Number(v);
  if (!/^[+-]?\d+(\.\d{1,4})?$/.test(v.trim()) || n === 0)
    throw new InvalidArgumentError(`${name} must be a signed, non-zero number with at most 4 decimals`);
  return n;
};

const intArg = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be a whole number`);
  return Number(v);
};

/** A verify report in plain words; throws (exit 1) when the chain is broken, after saying where. */
function report(r: ChainResult & { durationMs?: number }, source: string, print: (t: string) => void): void {
  const took = r.durationMs !== undefined ? ` in ${r.durationMs} ms` : '';
  if (r.ok) {
    print(
      r.headSeq === null
        ? `${source}: the ledger is empty; nothing to verify`
        : `${source}: ledger intact: ${r.entries} entries, head seq ${r.headSeq}, hash ${r.headHash} (verified${took})`,
    );
    return;
  }
  const bad = r.firstBad!;
  print(`${source}: ledger chain BROKEN: the first bad entry is seq ${bad.seq} (${bad.problem})`);
  print(`  ${bad.detail}`);
  print(`  (${r.entries} entries read, last seq ${r.headSeq ?? '-'}${took})`);
  throw new AppError(
    LedgerErrorCode.Broken,
    'conflict',
    `the ledger chain is broken at seq ${bad.seq} (${bad.problem})`,
  );
}

export function addLedgerCommands(program: Command, deps: LedgerCliDeps): void {
  const { withApp, print } = deps;
  const ledger = program.command('ledger').description('the usage ledger: verify, export, list, adjust');

  ledger
    .command('verify')
    .description('recompute the hash chain; exit 1 naming the first entry altered, removed, inserted or reordered')
    .option('--file <export>', 'verify an exported file (CSV or JSON) instead of the database; needs no database')
    .option('--json', 'print the report as JSON')
    .action(async (o: { file?: string; json?: boolean }) => {
      let r: ChainResult & { durationMs?: number };
      let source = 'database';
      if (o.file) {
        let text: string;
        try {
          text = readFileSync(o.file, 'utf8');
        } catch (err) {
          throw deps.usageError(
            `cannot read ${o.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
          );
        }
        const t0 = performance.now();
        const rows = parseExport(text);
        const byHash = new Map<string, string[]>();
        for (const row of rows) byHash.set(row.hash, [...(byHash.get(row.hash) ?? []), row.seq]);
        async function* stream() {
          yield* rows;
        }
        // The file has no checkpoints: a file cut at its end verifies; compare its head with a trusted one.
        r = await verifyChain(stream(), { seqsWithHash: async (h) => byHash.get(h) ?? [] });
        r.durationMs = Math.round(performance.now() - t0);
        source = o.file;
      } else {
        r = await withApp((app) => app.get(LedgerService).verify());
      }
      if (o.json) {
        print(JSON.stringify(r, null, 2));
        if (!r.ok)
          throw new AppError(
            LedgerErrorCode.Broken,
            'conflict',
            `the ledger chain is broken at seq ${r.firstBad!.seq}`,
          );
        return;
      }
      report(r, source, print);
    });

  ledger
    .command('export')
    .description('write every entry, hashes included, for audit (re-verify it with `ledger verify --file`)')
    .addOption(new Option('--format <format>', 'file format').choices(['csv', 'json']).default('csv'))
    .option('--out <file>', 'write to this file instead of standard output')
    .action(async (o: { format: ExportFormat; out?: string }) =>
      withApp(async (app) => {
        const out = o.out ? createWriteStream(o.out) : process.stdout;
        let entries = 0;
        for await (const chunk of app.get(LedgerAdminService).export(o.format)) {
          entries += o.format === 'csv' ? (chunk.match(/\r\n/g)?.length ?? 0) : 0;
          if (!out.write(chunk)) await once(out, 'drain');
        }
        if (o.out) {
          out.end();
          await once(out, 'finish');
          process.stderr.write(
            `wrote the ledger to ${o.out} (${o.format}${o.format === 'csv' ? `, ${Math.max(entries - 1, 0)} entries` : ''})\n`,
          );
        }
      }),
    );

  ledger
    .command('list')
    .description('entries, newest first')
    .option('--user <name>', "only this user's entries")
    .option('--course <course>', 'only this course (CODE:TERM or id)')
    .option('--limit <n>', 'at most this many', intArg('--limit'), 50)
    .option('--before <seq>', 'entries before this seq')
    .option('--json', 'print JSON')
    .action(async (o: { user?: string; course?: string; limit: number; before?: string; json?: boolean }) =>
      withApp(async (app) => {
        if (o.limit < 1 || o.limit > 500) throw deps.usageError('--limit must be 1..500');
        if (o.before !== undefined && !/^[1-9]\d{0,17}$/.test(o.before))
          throw deps.usageError('--before must be a seq (a positive whole number)');
        const { entries } = await app.get(LedgerAdminService).list(o);
        print(
          o.json
            ? JSON.stringify(entries, null, 2)
            : table(entries as unknown as Array<Record<string, unknown>>, [
                'seq',
                'at',
                'kind',
                'username',
                'course',
                'gpuMinutes',
                'cpuMinutes',
                'actor',
                'reason',
              ]),
        );
      }),
    );

  ledger
    .command('adjust')
    .description("correct a student's budget in a course by a new adjustment entry (old entries never change)")
    .requiredOption('--user <name>', 'the student')
    .requiredOption('--course <CODE:TERM>', 'the course, e.g. CS101:2026F (or its id)')
    .option('--gpu-minutes <n>', 'signed GPU-minutes: positive gives, negative takes', amountArg('--gpu-minutes'))
    .option('--cpu-minutes <n>', 'signed CPU core-minutes', amountArg('--cpu-minutes'))
    .requiredOption('--reason <text>', 'why (3 to 500 characters; kept in the ledger and the audit log)')
    .action(async (o: { user: string; course: string; gpuMinutes?: number; cpuMinutes?: number; reason: string }) => {
      if (o.gpuMinutes === undefined && o.cpuMinutes === undefined)
        throw deps.usageError('give --gpu-minutes or --cpu-minutes');
      await withApp(async (app) => {
        const e = await app.get(LedgerAdminService).adjust(
          { userId: null, actor: 'cli' },
          {
            username: o.user,
            course: o.course,
            gpuMinutes: o.gpuMinutes,
            cpuMinutes: o.cpuMinutes,
            reason: o.reason,
          },
        );
        print(
          `recorded adjustment seq ${e.seq} for ${e.username} in ${e.course}: ${e.gpuMinutes} GPU-minutes, ${e.cpuMinutes} CPU-minutes (${e.reason})`,
        );
      });
    });
}
