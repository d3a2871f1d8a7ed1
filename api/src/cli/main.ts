import 'reflect-metadata';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditService } from '../modules/audit/audit.service';
import { TokensService, parseExpiry } from '../modules/auth/tokens.service';
import { TOKEN_SCOPES } from '../modules/auth/scopes';
import { CLI_ACTOR } from '../modules/courses/actor';
import { COURSE_ROLES, CourseRole } from '../modules/courses/course.entity';
import { CourseMembersService } from '../modules/courses/course-members.service';
import { CoursesService } from '../modules/courses/courses.service';
import { discoveryView, rigView } from '../modules/rigs/rigs.controller';
import { RigsService } from '../modules/rigs/rigs.service';
import { CAMPUS_ROLES, CampusRole } from '../modules/users/user.entity';
import { UsersService } from '../modules/users/users.service';
import { Config, ConfigError, loadConfig } from '../platform/config/config';
import { createDataSource } from '../platform/db/data-source';
import { AppError } from '../platform/http/app-error';
import { CliModule } from './cli.module';
import { addLedgerCommands } from './ledger-commands';
import { addQuotaCommands } from './quota-commands';
import { addRigCommands } from './rig-commands';
import { discoveryText } from './rig-inventory-text';
import { addTemplateCommands } from './template-commands';
import { seedDemo } from './seed-demo';
import { courseArg, table } from './output';

/** Exit codes: 0 done, 1 the operation failed (the message says why), 2 the command line was wrong. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

/** A command line that makes no sense as given (exit 2). */
class CliFailure extends Error {}

let config: Config | undefined;
function cfg(): Config {
  return (config ??= loadConfig());
}

async function withApp<T>(work: (app: INestApplicationContext) => Promise<T>): Promise<T> {
  const app = await NestFactory.createApplicationContext(CliModule.forRoot(cfg()), {
    logger: ['error'],
    abortOnError: false,
  });
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}

const print = (text: string): void => void process.stdout.write(`${text}\n`);
const intArg = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be a whole number`);
  return Number(v);
};

export function buildCli(): Command {
  const program = new Command('riglab')
    .description('riglab command-line tool for campus IT (reads the same configuration as the portal)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('migrate')
    .description('apply pending database migrations (or roll the last one back with --revert)')
    .option('--revert', 'undo the most recent migration')
    .action(async (opts: { revert?: boolean }) => {
      const ds = createDataSource(cfg().databaseUrl);
      await ds.initialize();
      try {
        if (opts.revert) {
          await ds.undoLastMigration({ transaction: 'each' });
          print('reverted the last migration');
        } else {
          const done = await ds.runMigrations({ transaction: 'each' });
          print(
            done.length
              ? `applied ${done.length} migration(s): ${done.map((m) => m.name).join(', ')}`
              : 'database schema is up to date',
          );
        }
      } finally {
        await ds.destroy();
      }
    });

  const token = program.command('token').description('API tokens (shown once, stored hashed)');
  token
    .command('create')
    .description('create an API token for a user and print it once')
    .requiredOption('--user <name>', 'the user the token acts as')
    .option('--scope <scope...>', `scopes (${TOKEN_SCOPES.join(', ')}); default: read labs, or admin for admins`)
    .option('--expires <when>', 'lifetime: 30d, 12h, 90m, 2w, an ISO date, or never', '90d')
    .option('--name <text>', 'a note to recognise the token by', 'cli')
    .action(async (opts: { user: string; scope?: string[]; expires: string; name: string }) =>
      withApp(async (app) => {
        const user = await app.get(UsersService).byUsername(opts.user);
        const expiresAt = parseExpiry(opts.expires);
        const scopes = opts.scope ?? (user.campusRole === 'admin' ? ['admin'] : ['read', 'labs']);
        const created = await app.get(TokensService).create(user, { name: opts.name, scopes, expiresAt });
        await app.get(AuditService).record({
          action: 'token.create',
          actor: 'cli',
          targetType: 'api_token',
          targetId: created.record.id,
          detail: { user: user.username, scopes },
        });
        process.stderr.write(
          `token for ${user.username} (scopes: ${scopes.join(' ')}; expires: ${expiresAt?.toISOString() ?? 'never'}); it is shown only now:\n`,
        );
        print(created.token);
      }),
    );
  token
    .command('list')
    .description('list live tokens (never the tokens themselves)')
    .option('--user <name>', "only this user's tokens")
    .option('--json', 'print JSON')
    .action(async (opts: { user?: string; json?: boolean }) =>
      withApp(async (app) => {
        const userId = opts.user ? (await app.get(UsersService).byUsername(opts.user)).id : undefined;
        const rows = (await app.get(TokensService).list(userId)).map((t) => ({
          id: t.id,
          user: t.user?.username,
          name: t.name,
          prefix: t.prefix,
          scopes: t.scopes,
          expires: t.expiresAt,
          lastUsed: t.lastUsedAt,
        }));
        print(
          opts.json
            ? JSON.stringify(rows, null, 2)
            : table(rows, ['id', 'user', 'name', 'prefix', 'scopes', 'expires', 'lastUsed']),
        );
      }),
    );
  token
    .command('revoke <id>')
    .description('revoke a token by its id')
    .action(async (id: string) =>
      withApp(async (app) => {
        await app.get(TokensService).revoke(id);
        await app
          .get(AuditService)
          .record({ action: 'token.revoke', actor: 'cli', targetType: 'api_token', targetId: id });
        print(`revoked token ${id}`);
      }),
    );

  const rig = program.command('rig').description('rigs: the Docker engines of the pool');
  rig
    .command('add <name>')
    .description(
      'register a rig by its Docker endpoint: tests the connection, discovers CPUs, memory, disk, Docker and GPUs, ' +
        'and registers it in `registered` (burn-in then puts it into service)',
    )
    .requiredOption('--endpoint <url>', 'unix:///var/run/docker.sock or tcp://host:2376 (TCP needs --tls-*)')
    .option('--tls-ca <file>', "CA certificate (PEM) that signed the engine's certificate")
    .option('--tls-cert <file>', 'client certificate (PEM)')
    .option('--tls-key <file>', 'client key (PEM)')
    .option('--cpus <n>', 'CPUs labs may use on this rig (default: found less RIG_RESERVE_CPUS)', intArg('--cpus'))
    .option(
      '--memory-mb <n>',
      'memory (MiB) labs may use on this rig (default: found less RIG_RESERVE_MEMORY_MB)',
      intArg('--memory-mb'),
    )
    .addOption(
      new Option('--driver <kind>', 'how GPUs are handed to containers (default: from the GPUs found)').choices([
        'nvidia',
        'amd',
        'devices',
        'none',
      ]),
    )
    .option('--offline', 'register even when the engine does not answer (run `rig inventory` later)')
    .option('--no-gpus', 'do not register the GPUs found')
    .option('--active <reason>', 'put the rig straight into the pool, skipping burn-in (why: kept in its history)')
    .option('--json', 'print JSON')
    .action(
      async (
        name: string,
        o: {
          endpoint: string;
          tlsCa?: string;
          tlsCert?: string;
          tlsKey?: string;
          cpus?: number;
          memoryMb?: number;
          driver?: 'nvidia' | 'amd' | 'devices' | 'none';
          offline?: boolean;
          gpus: boolean;
          active?: string;
          json?: boolean;
        },
      ) =>
        withApp(async (app) => {
          const given = [o.tlsCa, o.tlsCert, o.tlsKey].filter(Boolean).length;
          if (given !== 0 && given !== 3)
            throw new CliFailure('give all three of --tls-ca, --tls-cert and --tls-key, or none');
          const tls = given === 3 ? { ca: o.tlsCa!, cert: o.tlsCert!, key: o.tlsKey! } : null;
          const d = await app.get(RigsService).add(
            {
              name,
              endpoint: o.endpoint,
              tls,
              cpus: o.cpus,
              memoryMb: o.memoryMb,
              driver: o.driver,
              offline: o.offline,
              gpus: o.gpus,
              activate: o.active,
            },
            { name: 'cli' },
          );
          print(
            o.json ? JSON.stringify(discoveryView(d), null, 2) : discoveryText(`added rig ${name} (${o.endpoint})`, d),
          );
        }),
    );
  rig
    .command('inventory <name>')
    .description("discover a rig's inventory again through its engine (and register GPUs found under a new index)")
    .option('--no-gpus', 'do not register GPUs found')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { gpus: boolean; json?: boolean }) =>
      withApp(async (app) => {
        const d = await app.get(RigsService).rediscover(name, { gpus: o.gpus }, { name: 'cli' });
        print(o.json ? JSON.stringify(discoveryView(d), null, 2) : discoveryText(`rig ${name}`, d));
      }),
    );
  rig
    .command('list')
    .description('list rigs and whether their engines answer')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) =>
      withApp(async (app) => {
        const rows = (await app.get(RigsService).probeAll()).map((p) => ({
          ...rigView(p.rig),
          engine: p.up ? `up ${p.latencyMs}ms` : `down: ${p.error}`,
        }));
        print(
          opts.json
            ? JSON.stringify(rows, null, 2)
            : table(rows, ['name', 'state', 'endpoint', 'driver', 'cpus', 'memoryMb', 'engine']),
        );
      }),
    );
  rig
    .command('remove <name>')
    .description('remove a rig that runs no labs')
    .action(async (name: string) =>
      withApp(async (app) => {
        await app.get(RigsService).remove(name);
        await app.get(AuditService).record({ action: 'rig.remove', actor: 'cli', targetType: 'rig', targetId: name });
        print(`removed rig ${name}`);
      }),
    );

  const gpu = program.command('gpu').description('GPUs of the rigs, and their slots');
  gpu
    .command('add <rig>')
    .description('register a GPU of a rig (one slot = one student at a time)')
    .requiredOption('--index <n>', "the GPU's index on the rig (0, 1, ...)", intArg('--index'))
    .requiredOption('--model <name>', 'model, as templates name it (e.g. "GTX 1070", "RX 580")')
    .requiredOption('--vram-mb <n>', 'memory of the GPU in MiB', intArg('--vram-mb'))
    .requiredOption('--device <id...>', 'NVIDIA index/UUID, /dev/dri/renderD128, or device paths')
    .addOption(
      new Option('--driver <kind>', "how the GPU is handed to containers (default: the rig's)").choices([
        'nvidia',
        'amd',
        'devices',
      ]),
    )
    .option('--slots <n>', 'students sharing it at once', intArg('--slots'), 1)
    .option('--rate <x>', 'GPU-minutes charged per minute of use (faster models cost more)', (v) => Number(v), 1)
    .action(
      async (
        rigName: string,
        o: {
          index: number;
          model: string;
          vramMb: number;
          device: string[];
          driver?: 'nvidia' | 'amd' | 'devices';
          slots: number;
          rate: number;
        },
      ) =>
        withApp(async (app) => {
          const added = await app.get(RigsService).addGpu(rigName, {
            index: o.index,
            model: o.model,
            vramMb: o.vramMb,
            deviceIds: o.device,
            driver: o.driver,
            slots: o.slots,
            rate: o.rate,
          });
          await app.get(AuditService).record({
            action: 'gpu.add',
            actor: 'cli',
            targetType: 'gpu',
            targetId: `${rigName}/${o.index}`,
            detail: { model: o.model },
          });
          print(
            `added GPU ${o.index} (${added.model}, ${added.vramMb} MiB, ${added.driverKind}) to rig ${rigName} with ${o.slots} slot(s)`,
          );
        }),
    );
  gpu
    .command('list')
    .description('list GPUs and how many of their slots are in use')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) =>
      withApp(async (app) => {
        const rigs = app.get(RigsService);
        const use = await rigs.slotUse();
        const rows = (await rigs.gpus()).map((g) => ({
          rig: g.rig?.name,
          index: g.index,
          model: g.model,
          vramMb: g.vramMb,
          driver: g.driverKind,
          devices: g.deviceIds,
          slots: `${use.get(g.id)?.used ?? 0}/${use.get(g.id)?.total ?? 0}`,
          healthy: g.healthy,
        }));
        print(
          opts.json
            ? JSON.stringify(rows, null, 2)
            : table(rows, ['rig', 'index', 'model', 'vramMb', 'driver', 'devices', 'slots', 'healthy']),
        );
      }),
    );

  const user = program.command('user').description('people who use the portal');
  user
    .command('add <username>')
    .description('add a user (SSO sign-in creates users too)')
    .addOption(
      new Option(
        '--role <role>',
        'campus role (default student; a role given here is kept across SSO sign-ins)',
      ).choices([...CAMPUS_ROLES]),
    )
    .option('--name <display name>', 'display name')
    .option('--email <address>', 'e-mail address')
    .action(async (username: string, o: { role?: CampusRole; name?: string; email?: string }) =>
      withApp(async (app) => {
        const added = await app
          .get(UsersService)
          .add({ username, campusRole: o.role ?? 'student', pinRole: !!o.role, displayName: o.name, email: o.email });
        await app.get(AuditService).record({
          action: 'user.add',
          actor: 'cli',
          targetType: 'user',
          targetId: added.username,
          detail: { role: o.role },
        });
        print(`added user ${added.username} (${added.campusRole})`);
      }),
    );
  user
    .command('list')
    .description('list users')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) =>
      withApp(async (app) => {
        const rows = (await app.get(UsersService).list()).map((u) => ({
          username: u.username,
          name: u.displayName,
          email: u.email,
          role: u.campusRole,
          created: u.createdAt,
        }));
        print(
          opts.json ? JSON.stringify(rows, null, 2) : table(rows, ['username', 'name', 'email', 'role', 'created']),
        );
      }),
    );

  addCourseCommands(program);
  addLedgerCommands(program, { withApp, print, usageError: (m) => new CliFailure(m) });
  addQuotaCommands(program, { withApp, print });
  addRigCommands(program, { withApp, print });
  addTemplateCommands(program, {
    withApp,
    print,
    usageError: (m) => new CliFailure(m),
    projectRoot: () => cfg().projectRoot,
  });

  program
    .command('seed-demo')
    .description('create the demo course, template, users and local rig (changes nothing when present)')
    .requiredOption('--image <tag>', 'the lab image the demo template uses')
    .requiredOption('--rig-endpoint <url>', 'Docker endpoint of the local rig')
    .action(async (o: { image: string; rigEndpoint: string }) =>
      withApp(async (app) =>
        print(await seedDemo(app, join(cfg().projectRoot, 'course-templates'), o.image, o.rigEndpoint)),
      ),
    );
  return program;
}

function addCourseCommands(program: Command): void {
  const course = program.command('course').description('courses: code, term, title; archived ones admit no launches');
  course
    .command('add')
    .description('create a course')
    .requiredOption('--code <code>', 'course code, e.g. CS101')
    .requiredOption('--term <term>', 'term, e.g. 2026F')
    .requiredOption('--title <title>', 'title shown to students')
    .option('--instructor-notebook-access', "let the course's instructors open students' running notebooks (audited)")
    .action(async (o: { code: string; term: string; title: string; instructorNotebookAccess?: boolean }) =>
      withApp(async (app) => {
        const c = await app.get(CoursesService).create(CLI_ACTOR, {
          code: o.code,
          term: o.term,
          title: o.title,
          settings: { instructorNotebookAccess: !!o.instructorNotebookAccess },
        });
        print(`added course ${c.code} ${c.term} (${c.title}); id ${c.id}`);
      }),
    );
  course
    .command('list')
    .description('list courses with their member counts')
    .option('--archived', 'include archived courses')
    .option('--json', 'print JSON')
    .action(async (o: { archived?: boolean; json?: boolean }) =>
      withApp(async (app) => {
        const rows = (await app.get(CoursesService).listFor(null, !!o.archived)).map((c) => ({
          id: c.id,
          code: c.code,
          term: c.term,
          title: c.title,
          members: c.memberCount,
          archived: c.archivedAt,
          notebookAccess: c.settings.instructorNotebookAccess,
        }));
        print(
          o.json
            ? JSON.stringify(rows, null, 2)
            : table(rows, ['code', 'term', 'title', 'members', 'archived', 'notebookAccess', 'id']),
        );
      }),
    );
  for (const [verb, archived] of [
    ['archive', true],
    ['unarchive', false],
  ] as const)
    course
      .command(`${verb} <code> <term>`)
      .description(
        archived ? 'archive a course: its labs can no longer be launched' : 'make an archived course live again',
      )
      .action(async (code: string, term: string) =>
        withApp(async (app) => {
          const courses = app.get(CoursesService);
          const c = await courses.setArchived(CLI_ACTOR, await courses.byCodeTerm(code, term), archived);
          print(`${archived ? 'archived' : 'unarchived'} course ${c.code} ${c.term}`);
        }),
      );

  const member = program.command('member').description('course members (rosters) by hand');
  member
    .command('add')
    .description(
      'add a member or change their role (a user who never signed in is created, to be matched at SSO sign-in)',
    )
    .requiredOption('--course <CODE:TERM>', 'the course, e.g. CS101:2026F', courseArg)
    .requiredOption('--user <name>', 'username')
    .addOption(new Option('--role <role>', 'course role').choices([...COURSE_ROLES]).default('student'))
    .action(async (o: { course: { code: string; term: string }; user: string; role: CourseRole }) =>
      withApp(async (app) => {
        const c = await app.get(CoursesService).byCodeTerm(o.course.code, o.course.term);
        const m = await app.get(CourseMembersService).put(CLI_ACTOR, c, o.user, o.role);
        print(`${m.username} is ${m.role} of ${c.code} ${c.term}`);
      }),
    );
  member
    .command('remove')
    .description('remove a member from a course')
    .requiredOption('--course <CODE:TERM>', 'the course, e.g. CS101:2026F', courseArg)
    .requiredOption('--user <name>', 'username')
    .action(async (o: { course: { code: string; term: string }; user: string }) =>
      withApp(async (app) => {
        const c = await app.get(CoursesService).byCodeTerm(o.course.code, o.course.term);
        await app.get(CourseMembersService).remove(CLI_ACTOR, c, o.user);
        print(`removed ${o.user} from ${c.code} ${c.term}`);
      }),
    );

  program
    .command('roster')
    .description('rosters from CSV files')
    .command('import <file>')
    .description('add or re-role members from a CSV file (username,role; header optional); all rows or none')
    .requiredOption('--course <CODE:TERM>', 'the course, e.g. CS101:2026F', courseArg)
    .option('--dry-run', 'only show what the file would do')
    .action(async (file: string, o: { course: { code: string; term: string }; dryRun?: boolean }) => {
      let csv: string;
      try {
        csv = readFileSync(file, 'utf8');
      } catch (err) {
        throw new CliFailure(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      await withApp(async (app) => {
        const c = await app.get(CoursesService).byCodeTerm(o.course.code, o.course.term);
        const r = await app.get(CourseMembersService).importCsv(CLI_ACTOR, c, csv, !!o.dryRun);
        print(
          table(
            r.rows.map((x) => ({ ...x, error: x.error ?? '' })),
            ['line', 'username', 'role', 'action', 'error'],
          ),
        );
        const s = r.summary;
        const counts = `${s.add} to add, ${s.change} to change, ${s.keep} unchanged, ${s.error} bad`;
        if (s.error > 0) throw new RosterRefused(`${file} has ${s.error} bad row(s); nothing was changed (${counts})`);
        print(r.applied ? `imported into ${c.code} ${c.term}: ${counts}` : `dry run, nothing changed: ${counts}`);
      });
    });
}

/** A roster file with bad rows: the operation failed (exit 1), the rows printed say why. */
class RosterRefused extends Error {}

export async function run(argv: string[]): Promise<number> {
  try {
    await buildCli().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message already; help and version are not failures.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0
        ? 0
        : EXIT_USAGE;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`riglab: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof RosterRefused) {
      process.stderr.write(`riglab: error: ${err.message}\n`);
      return EXIT_FAILED;
    }
    if (err instanceof AppError || err instanceof CliFailure) {
      process.stderr.write(`riglab: error: ${err.message}\n`);
      return err instanceof CliFailure || err.kind === 'invalid' ? EXIT_USAGE : EXIT_FAILED;
    }
    const msg = (err as Error)?.message ?? String(err);
    process.stderr.write(
      `riglab: error: ${
        /ECONNREFUSED|connect/i.test(msg)
          ? `cannot reach the database (${msg}); is it running? (npm run up)`
          : /relation .* does not exist/.test(msg)
            ? `the database schema is older than this riglab (${msg}); run \`riglab migrate\``
            : msg
      }\n`,
    );
    return EXIT_FAILED;
  }
}

if (require.main === module) {
  run(process.argv.slice(2)).then((code) => process.exit(code));
}
