import { dirname, join, relative } from 'node:path';
import { NODE_FLAGS } from './node-flags';
import { LOG_FILE_NAME } from '../runtime/logger';

/**
 * The files that schedule the tool and keep its log bounded, written for one host: every path in
 * them is absolute (the node binary, the installed CLI, the env file), so they do not depend on
 * cron's PATH or on the folder a job starts in.
 */
export interface Host {
  /** The node binary that runs the CLI: cron's PATH (/usr/bin:/bin) may not hold it. */
  node: string;
  /** The CLI's own script, links resolved. */
  cli: string;
  envFile: string;
  /** The user the runs are for: the one who runs `setup`. */
  user: string;
  logDir: string;
  stateDir: string;
  metricsFile?: string;
}

export interface SetupFile {
  /** Where it belongs, from the root of the file system. */
  path: string;
  text: string;
}

export type SetupKind = 'cron' | 'systemd' | 'logrotate';

export const SETUP_KINDS: readonly SetupKind[] = ['cron', 'systemd', 'logrotate'];

/** The files of each kind, and the command that puts them to use once written. */
export const SETUP: Record<SetupKind, { files: (host: Host) => SetupFile[]; next: (written: string[]) => string }> = {
  cron: {
    files: (host) => [cronFile(host)],
    next: () => 'cron reads /etc/cron.d by itself; after a minute, see what the first run did: o365-backsync status',
  },
  systemd: { files: systemdFiles, next: () => 'systemctl daemon-reload && systemctl enable --now o365-backsync.timer' },
  logrotate: {
    files: (host) => [logrotateFile(host)],
    next: (written) => `check it with: logrotate -d ${written.join(' ')}`,
  },
};

/**
 * Node.js is named before the CLI, with the V8 settings of the CLI's `#!` line, and `--` ends Node's
 * own options: without it Node reads the CLI's `--env-file PATH` as its option of the same name
 * (nodejs/node#54232) and exits 9.
 */
function argv(host: Host): string[] {
  return [host.node, ...NODE_FLAGS, '--', host.cli, 'sync', '--env-file', host.envFile];
}

function cronFile(host: Host): SetupFile {
  // A run prints nothing when all is well, so cron mails only what needs a look.
  return {
    path: '/etc/cron.d/o365-backsync',
    text: `# /etc/cron.d/o365-backsync: start o365-backsync every minute; the tool itself decides whether a pass is
# due, and a run that finds another one active exits at once. Written by \`o365-backsync setup cron\`.
# Use this or the systemd timer, not both.
* * * * * ${host.user} ${argv(host).map(shellWord).join(' ')}
`,
  };
}

function systemdFiles(host: Host): SetupFile[] {
  const writable = [
    ...underSystemFolder('StateDirectory', '/var/lib', host.stateDir, '0700'),
    ...underSystemFolder('LogsDirectory', '/var/log', host.logDir, '0750'),
    ...(host.metricsFile ? [`# METRICS_FILE's folder.\nReadWritePaths=${unitWord(dirname(host.metricsFile))}`] : []),
  ];
  // ProtectHome hides /home and /root; a Node.js or an install that lives there must stay readable.
  const inHome = [host.node, host.cli, host.envFile].some((p) => /^\/(home|root|run\/user)(\/|$)/.test(p));
  const service = `# /etc/systemd/system/o365-backsync.service: one run of o365-backsync; o365-backsync.timer starts it
# every minute, and the tool itself decides whether a pass is due. Written by \`o365-backsync setup systemd\`.
# Use this or the cron file (\`o365-backsync setup cron\`), not both.
[Unit]
Description=Resync Office 365 tenants from the Microsoft cloud into OA (o365-backsync)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
${host.user === 'root' ? '' : `User=${host.user}\n`}ExecStart=${argv(host).map(unitWord).join(' ')}
# A pass may take hours. On stop, SIGTERM lets the tenants in flight finish (each bounded by
# REQUEST_TIMEOUT_MS, 60 s by default) and saves the state, so the next run resumes.
TimeoutStartSec=infinity
TimeoutStopSec=90
# STATE_DIR and LOG_DIR: the only places the run may write.
${writable.join('\n')}
ProtectSystem=strict
ProtectHome=${inHome ? 'read-only' : 'yes'}
PrivateTmp=yes
NoNewPrivileges=yes
`;
  const timer = `# /etc/systemd/system/o365-backsync.timer: start o365-backsync.service every minute. A run that finds
# no pass due exits at once without touching the network; systemd never starts a second copy while
# one still runs. Written by \`o365-backsync setup systemd\`.
[Unit]
Description=Start o365-backsync every minute

[Timer]
OnCalendar=minutely
AccuracySec=5s

[Install]
WantedBy=timers.target
`;
  return [
    { path: '/etc/systemd/system/o365-backsync.service', text: service },
    { path: '/etc/systemd/system/o365-backsync.timer', text: timer },
  ];
}

/** A folder under /var/lib or /var/log is created by systemd with its mode; any other must exist. */
function underSystemFolder(directive: string, base: string, folder: string, mode: string): string[] {
  const below = relative(base, folder);
  if (below && !below.startsWith('..')) return [`${directive}=${unitWord(below)}`, `${directive}Mode=${mode}`];
  return [`# ${folder} must exist: the run cannot create folders outside these.`, `ReadWritePaths=${unitWord(folder)}`];
}

function logrotateFile(host: Host): SetupFile {
  const log = join(host.logDir, LOG_FILE_NAME);
  return {
    path: '/etc/logrotate.d/o365-backsync',
    text: `# /etc/logrotate.d/o365-backsync: keeps the JSON log of o365-backsync bounded, at most 15 files of
# at most a day (or 100 MB) each. Written by \`o365-backsync setup logrotate\`.
# No signal and no copytruncate are needed: every run opens the log anew, so after the rename the next
# run (cron starts one a minute) creates a fresh ${LOG_FILE_NAME}, mode 0640, itself. A pass still
# running writes its last lines to the renamed file, which delaycompress leaves uncompressed until
# the next rotation.
${/[\s"]/.test(log) ? `"${log}"` : log} {
    daily
    maxsize 100M
    rotate 14
    compress
    delaycompress
    missingok
    notifempty
    nocreate
}
`,
  };
}

/** One word for /bin/sh, as cron runs the line; `%` would end cron's command, so it is escaped. */
function shellWord(word: string): string {
  const quoted = /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
  return quoted.replace(/%/g, '\\%');
}

/** One word for a unit file: systemd splits on spaces and expands `%` specifiers and `$` variables. */
function unitWord(word: string): string {
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /^[\w@%+=:,./$-]+$/.test(escaped) ? escaped : `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
