import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../errors';
import { writeFileAtomic } from '../runtime/atomic-file';
import { envFileSettings, loadConfig, type LocalConfig } from '../runtime/config';
import { SYSTEM_ENV_FILE } from '../runtime/env-file';
import { EXIT, exitCodeFor } from './exit-codes';
import { LOG_TO_STDOUT } from '../runtime/logger';
import { type Host, SETUP, type SetupFile, type SetupKind } from './setup-files';

export interface SetupFlags {
  envFile?: string;
  user?: string;
  /** Parsed by its argParser (flags.ts). */
  systemdVersion?: number;
  write?: boolean;
  root?: string;
  force?: boolean;
  /** kubernetes: the container image to run. */
  image?: string;
}

/**
 * `setup kubernetes`: prints the manifest for `kubectl apply -f -`, its ConfigMap holding the settings
 * of the env file (`--env-file`, or the one the tool reads). It writes nothing itself.
 */
export function kubernetesSetupCommand(flags: SetupFlags): number {
  try {
    if (flags.write)
      throw new ConfigError('--write', 'setup kubernetes only prints; apply it with: | kubectl apply -f -');
    const config = loadConfig({ scope: 'local', envFile: flags.envFile && resolve(flags.envFile), env: {} });
    if (!config.envFile)
      process.stderr.write(
        `o365-backsync: note: ${SYSTEM_ENV_FILE} does not exist; fill in OFFICE_APP_ID and OA_HOST in the ConfigMap\n`,
      );
    const { kubernetesManifest } = require('./kubernetes-manifest') as typeof import('./kubernetes-manifest');
    const version = require('../../../package.json').version as string;
    const settings = config.envFile ? envFileSettings(config.envFile.path) : { OFFICE_APP_ID: '', OA_HOST: '' };
    process.stdout.write(kubernetesManifest({ image: flags.image ?? `o365-backsync:${version}`, settings }));
    return EXIT.ok;
  } catch (e) {
    process.stderr.write(`o365-backsync: ${(e as Error).message}\n`);
    return exitCodeFor(e);
  }
}

/**
 * `setup cron|systemd|logrotate`: prints the file(s) for this host, or with `--write` installs them
 * where they belong (below `--root`, for a scratch copy) and says what to run next. A file that is
 * there already with other content is left alone unless `--force`.
 */
export function setupCommand(kind: SetupKind, flags: SetupFlags): number {
  try {
    const host = thisHost(kind, flags);
    const files = SETUP[kind].files(host);
    if (!flags.write) {
      process.stdout.write(files.map((f) => f.text).join('\n'));
      return EXIT.ok;
    }
    const root = resolve(flags.root ?? '/');
    const done = install(kind, files, root, flags.force ?? false);
    process.stdout.write(
      `${done.join('\n')}\nnext: ${SETUP[kind].next(
        files.map((f) => join(root, f.path)),
        host,
      )}\n`,
    );
    return EXIT.ok;
  } catch (e) {
    process.stderr.write(`o365-backsync: ${(e as Error).message}\n`);
    return exitCodeFor(e);
  }
}

/** The user a systemd service runs as unless told otherwise: the RPM makes it, and the README says how. */
export const SERVICE_USER = 'o365-backsync';

/**
 * The paths the runs will use. Settings come from the env file alone, as the runs will see them: a
 * variable exported in the shell that runs `setup` is not there when cron or systemd starts the tool.
 */
function thisHost(kind: SetupKind, flags: SetupFlags): Host {
  const config = loadConfig({ scope: 'local', envFile: flags.envFile && resolve(flags.envFile), env: {} });
  const envFile = config.envFile?.path ?? SYSTEM_ENV_FILE;
  if (!config.envFile)
    process.stderr.write(
      `o365-backsync: note: ${envFile} does not exist yet; create it before the first run (see config.example.env)\n`,
    );
  absolute(config);
  if (config.logDir === LOG_TO_STDOUT && kind !== 'systemd')
    throw new ConfigError(
      'LOG_DIR',
      kind === 'cron'
        ? `is '${LOG_TO_STDOUT}' (stdout), which cron would mail every minute: set it to a folder for cron`
        : `is '${LOG_TO_STDOUT}' (stdout): there is no log file to rotate`,
    );
  return {
    node: process.execPath,
    // This module is dist/src/cli/setup-command.js; the CLI is bin/o365-backsync of the same package.
    cli: realpathSync(join(__dirname, '../../../bin/o365-backsync')),
    envFile: resolve(envFile),
    user: flags.user ?? (kind === 'systemd' ? SERVICE_USER : currentUser()),
    systemdVersion: flags.systemdVersion ?? hostSystemdVersion(),
    logDir: config.logDir,
    stateDir: config.stateDir,
    metricsFile: config.metricsFile,
  };
}

/**
 * The user running setup, by name; by uid where the host has no passwd entry for it (a container run
 * under an arbitrary uid, a bare chroot), where os.userInfo() throws.
 */
function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.());
  }
}

/** The version of this host's systemd, from `systemctl --version`; undefined where there is none. */
function hostSystemdVersion(): number | undefined {
  const answer = spawnSync('systemctl', ['--version'], { encoding: 'utf8' });
  const version = /^systemd (\d+)/.exec(answer.stdout ?? '')?.[1];
  return version ? Number(version) : undefined;
}

/** cron and systemd start the tool in another folder than this one, so a relative path would move. */
function absolute(config: LocalConfig): void {
  const paths: [string, string | undefined][] = [
    ['LOG_DIR', config.logDir],
    ['STATE_DIR', config.stateDir],
    ['METRICS_FILE', config.metricsFile],
  ];
  for (const [name, path] of paths) {
    if (path !== undefined && !(name === 'LOG_DIR' && path === LOG_TO_STDOUT) && !isAbsolute(path))
      throw new ConfigError(
        name,
        `must be an absolute path for setup (cron and systemd start the tool in another folder), got '${path}'`,
      );
  }
}

/** Writes every file, or none when one of them is there already with other content. */
function install(kind: SetupKind, files: SetupFile[], root: string, force: boolean): string[] {
  const targets = files.map((f) => ({ ...f, at: join(root, f.path) }));
  const current = (at: string): string | undefined => (existsSync(at) ? readFileSync(at, 'utf8') : undefined);
  const differing = targets.find((t) => ![undefined, t.text].includes(current(t.at)));
  if (differing && !force) {
    throw new ConfigError(
      differing.at,
      `exists with other content; compare it with \`o365-backsync setup ${kind}\`, then add --force to replace it`,
    );
  }
  return targets.map((t) => {
    if (current(t.at) === t.text) return `unchanged ${t.at}`;
    try {
      mkdirSync(dirname(t.at), { recursive: true });
      // cron and logrotate ignore a file that others can write; none of these holds a secret.
      writeFileAtomic(t.at, t.text, 0o644);
    } catch (e) {
      throw new ConfigError(
        t.at,
        `cannot write it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (run setup as root, or give --root)`,
      );
    }
    return `wrote ${t.at}`;
  });
}
