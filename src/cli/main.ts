import { Command, CommanderError, Option } from 'commander';
import { EXIT } from './exit-codes';

/**
 * The command-line wiring. Only commander is loaded up front: each command loads its own modules when
 * it runs, so `--help` and `--version` stay cheap under a cron that starts us every minute.
 */
const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

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
    .option('--env-file <path>', 'env file to read (default ./.env, else /etc/o365-backsync.env)')
    .option('--json', 'print one JSON summary object on stdout at the end')
    .option('--dry-run', 'list instances and tenants, send no resync')
    .option('--force', 'start a pass even if pacing says it is not due (the lock still applies)')
    .option('--concurrency <n>', 'tenants resynced at once (SYNC_CONCURRENCY)')
    .addOption(new Option('--instance <id>', 'only this instance (repeatable)').argParser(collect))
    .option('--log-dir <dir>', 'where the JSON log goes (LOG_DIR)')
    .option('--state-dir <dir>', 'lock and state files (STATE_DIR)')
    .action(async (options) => {
      const { syncCommand } = require('./sync-command') as typeof import('./sync-command');
      process.exitCode = await syncCommand(options);
    });

  return program;
}

export async function run(argv = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    process.stderr.write(`o365-backsync: internal error: ${(e as Error).message}\n`);
    process.exitCode = EXIT.internal;
  }
}
