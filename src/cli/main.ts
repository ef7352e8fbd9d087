import { Argument, Command, CommanderError, Option } from 'commander';
import { printable, quietOnClosedOutput } from './terminal-text';
import { openFilesLimit } from '../errors';
import { EXIT, exitCodeFor } from './exit-codes';
import { instanceIdFlag, systemdVersionFlag, tenantIdFlag, userFlag } from './flags';
import type { SetupKind } from './setup-files';

/**
 * The command-line wiring. Only commander is loaded up front: each command loads its own modules when
 * it runs, so `--help` and `--version` stay cheap under a cron that starts us every minute.
 */
const ENV_FILE = ['--env-file <path>', 'env file to read (default ./.env, else /etc/o365-backsync.env)'] as const;
const STATE_DIR = ['--state-dir <dir>', 'lock and state files (STATE_DIR)'] as const;
const TRACE = [
  '--trace <file>',
  "write the run's HTTP exchanges to this HAR file, secrets blanked (for a bug report)",
] as const;

export function buildProgram(): Command {
  const program = new Command('o365-backsync')
    .description('Tell every Office 365 tenant in OA to resynchronise from the Microsoft cloud.')
    .version(require('../../../package.json').version as string)
    // One line, like every other error of this tool: "o365-backsync: unknown option '--x'".
    .configureOutput({ outputError: (text, write) => write(`o365-backsync: ${text.replace(/^error: /, '')}`) })
    .exitOverride();

  program
    .command('sync', { isDefault: true })
    .description('run a back-sync pass (the default command; meant for cron)')
    .option(...ENV_FILE)
    .option('--json', 'print one JSON summary object on stdout at the end')
    .option('--dry-run', 'list instances and tenants, send no resync')
    .option('--force', 'start a pass even if pacing says it is not due (the lock still applies)')
    .option('--concurrency <n>', 'tenants resynced at once (SYNC_CONCURRENCY)')
    .addOption(new Option('--instance <id>', 'only this instance (repeatable)').argParser(instanceIdFlag))
    .addOption(
      new Option('--tenant <uuid>', 'resync just this tenant now, whatever pacing says (repeatable)').argParser(
        tenantIdFlag,
      ),
    )
    .option('--log-dir <dir>', 'where the JSON log goes (LOG_DIR)')
    .option(...STATE_DIR)
    .option('--metrics-file <path>', 'Prometheus textfile-collector metrics, rewritten by each run (METRICS_FILE)')
    .option(...TRACE)
    .action(async (options) => {
      const { syncCommand } = require('./sync-command') as typeof import('./sync-command');
      process.exitCode = await syncCommand(options);
    });

  program
    .command('status')
    .description('the last pass, the pass in progress, failed tenants, and when the next pass is due (no network call)')
    .option(...ENV_FILE)
    .option('--json', 'print one JSON object')
    .option(...STATE_DIR)
    .action(async (options) => {
      const { statusCommand } = require('./status-command') as typeof import('./status-command');
      process.exitCode = await statusCommand(options);
    });

  program
    .command('check')
    .description(
      'check the settings, OA, the application, tokens, the controller and tenant counts, one line each (sends no resync)',
    )
    .option(...ENV_FILE)
    .option(...TRACE)
    .action(async (options) => {
      const { checkCommand } = require('./check-command') as typeof import('./check-command');
      process.exitCode = await checkCommand(options);
    });

  program
    .command('setup')
    .description(
      'print the cron, systemd or logrotate file for this host with absolute paths (--write installs it), a Kubernetes manifest, or Prometheus alerting rules',
    )
    .addArgument(
      new Argument('<kind>', 'what to set up').choices(['cron', 'systemd', 'logrotate', 'kubernetes', 'alerts']),
    )
    .option(
      '--env-file <path>',
      'env file the scheduled runs read (default ./.env if present, else /etc/o365-backsync.env)',
    )
    .option(
      '--write',
      'install the file where it belongs (/etc/cron.d, /etc/systemd/system, /etc/logrotate.d, /etc/prometheus)',
    )
    .option('--root <dir>', 'install below this folder instead of / (for a scratch copy)')
    .option('--force', 'replace a file that is there already with other content')
    .addOption(
      new Option(
        '--user <name>',
        'the user the runs run as (cron: the one running setup; systemd: o365-backsync)',
      ).argParser(userFlag),
    )
    .addOption(
      new Option(
        '--systemd-version <n>',
        "systemd: write for this systemd release (default: this host's; RHEL 7 runs 219)",
      ).argParser(systemdVersionFlag),
    )
    .option('--image <name>', 'kubernetes: the container image (default o365-backsync:<version>)')
    .action((kind: SetupKind | 'kubernetes', options) => {
      const setup = require('./setup-command') as typeof import('./setup-command');
      process.exitCode =
        kind === 'kubernetes' ? setup.kubernetesSetupCommand(options) : setup.setupCommand(kind, options);
    });

  return program;
}

export async function run(argv = process.argv): Promise<void> {
  quietOnClosedOutput();
  try {
    const program = buildProgram();
    const mistyped = unknownCommand(program, argv[2]);
    if (mistyped) {
      process.stderr.write(`o365-backsync: ${printable(mistyped)}\n`);
      process.exitCode = EXIT.usage;
      return;
    }
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    // A flag's own parser refused its value (flags.ts), the host's open-files limit, or a bug.
    const error = openFilesLimit(e) ?? (e as Error);
    const code = exitCodeFor(error);
    process.stderr.write(
      `o365-backsync: ${code === EXIT.internal ? 'internal error: ' : ''}${printable(error.message)}\n`,
    );
    process.exitCode = code;
  }
}

/**
 * A first word that is no command. `sync` is the default command, so commander would take the word
 * for an argument of sync and answer "too many arguments for 'sync'", which names neither the word
 * nor the command meant.
 */
function unknownCommand(program: Command, word: string | undefined): string | undefined {
  if (word === undefined || word.startsWith('-')) return undefined;
  const commands = [...program.commands.map((c) => c.name()), 'help'];
  if (commands.includes(word)) return undefined;
  const { editDistance } = require('../runtime/setting-names') as typeof import('../runtime/setting-names');
  const nearest = commands
    .map((name) => ({ name, edits: editDistance(word.toLowerCase(), name) }))
    .reduce((best, next) => (next.edits < best.edits ? next : best));
  return nearest.edits <= 2
    ? `unknown command '${word}'; did you mean ${nearest.name}?`
    : `unknown command '${word}'; the commands are ${commands.join(', ')}`;
}
