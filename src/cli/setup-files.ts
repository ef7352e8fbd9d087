import { dirname, join, relative } from 'node:path';
import { NODE_FLAGS } from './node-flags';
import { LOG_FILE_NAME, LOG_TO_STDOUT } from '../runtime/logger';
import { alertRulesFile } from './alert-rules';

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
  /** The user the runs run as: for cron the one who runs `setup`, for systemd one of its own (or --user). */
  user: string;
  /** The systemd the units are for: the host's, or --systemd-version; unset, the newest. */
  systemdVersion?: number;
  logDir: string;
  stateDir: string;
  metricsFile?: string;
}

export interface SetupFile {
  /** Where it belongs, from the root of the file system. */
  path: string;
  text: string;
}

export type SetupKind = 'cron' | 'systemd' | 'logrotate' | 'alerts';

export const SETUP_KINDS: readonly SetupKind[] = ['cron', 'systemd', 'logrotate', 'alerts'];

/** The files of each kind, and the command that puts them to use once written. */
export const SETUP: Record<
  SetupKind,
  { files: (host: Host) => SetupFile[]; next: (written: string[], host: Host) => string }
> = {
  cron: {
    files: (host) => [cronFile(host)],
    next: () => 'cron reads /etc/cron.d by itself; after a minute, see what the first run did: o365-backsync status',
  },
  systemd: {
    files: systemdFiles,
    // The service's user must exist and read the env file; the RPM does both.
    next: (_, host) =>
      `id ${host.user} || useradd --system --no-create-home --shell /sbin/nologin ${host.user}; ` +
      `chgrp ${host.user} ${shellWord(host.envFile)} && chmod 0640 ${shellWord(host.envFile)}; ` +
      'systemctl daemon-reload && systemctl enable --now o365-backsync.timer',
  },
  logrotate: {
    files: (host) => [logrotateFile(host)],
    next: (written) => `check it with: logrotate -d ${written.join(' ')}`,
  },
  alerts: {
    files: () => [alertRulesFile()],
    next: (written) =>
      `list ${written.join(' ')} under rule_files in prometheus.yml, check it with: promtool check rules ${written.join(' ')}, then reload Prometheus`,
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

/** The systemd that knows every directive below; a newer one, or none found, gets them all. */
const NEWEST_SYSTEMD = Infinity;

/**
 * The service's confinement, each directive with the first systemd release that knows it: a host's
 * older systemd (RHEL 7 runs 219, RHEL 8 239, RHEL 9 252) gets only those it has, since an unknown
 * directive is dropped with a warning and a value it cannot parse leaves the setting at its default.
 * Left out on purpose: MemoryDenyWriteExecute (V8's JIT writes the code it runs), ProcSubset=pid
 * (Node.js reads /proc/meminfo), PrivateNetwork and IPAddressDeny (the run talks to OA and the
 * controller), PrivateUsers (it fails where user namespaces are switched off), a UMask tighter than
 * the default (the metrics file must stay readable by node_exporter's user; the tool sets the mode of
 * every other file itself).
 */
const CONFINEMENT: [since: number, directive: string][] = [
  [0, 'PrivateTmp=yes'],
  [187, 'NoNewPrivileges=yes'],
  [0, 'CapabilityBoundingSet='],
  [229, 'AmbientCapabilities='],
  [209, 'PrivateDevices=yes'],
  [0, 'DevicePolicy=closed'],
  [232, 'ProtectKernelTunables=yes'],
  [232, 'ProtectKernelModules=yes'],
  [244, 'ProtectKernelLogs=yes'],
  [232, 'ProtectControlGroups=yes'],
  [245, 'ProtectClock=yes'],
  [242, 'ProtectHostname=yes'],
  [247, 'ProtectProc=invisible'],
  [248, 'PrivateIPC=yes'],
  [233, 'RestrictNamespaces=yes'],
  [231, 'RestrictRealtime=yes'],
  [242, 'RestrictSUIDSGID=yes'],
  [235, 'LockPersonality=yes'],
  [232, 'RemoveIPC=yes'],
  [235, 'KeyringMode=private'],
  [211, 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX'],
  [209, 'SystemCallArchitectures=native'],
  [241, 'SystemCallFilter=@system-service'],
  [231, 'SystemCallFilter=~@privileged'],
  // A call outside the filter fails with EPERM rather than killing the run: libuv then falls back.
  [209, 'SystemCallErrorNumber=EPERM'],
];

function systemdFiles(host: Host): SetupFile[] {
  const has = (since: number): boolean => knows(host, since);
  const logToJournal = host.logDir === LOG_TO_STDOUT;
  const folders: [string, string, string, string][] = [
    ['StateDirectory', '/var/lib', host.stateDir, '0700'],
    ...(logToJournal ? [] : [['LogsDirectory', '/var/log', host.logDir, '0750'] as [string, string, string, string]]),
  ];
  const writable = [
    ...folders.flatMap(([directive, base, folder, mode]) => writableFolder(directive, base, folder, mode, host)),
    ...(host.metricsFile ? writablePath(`METRICS_FILE's folder.`, dirname(host.metricsFile), host) : []),
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
# A user of its own, never root: it must be able to read the env file.
User=${host.user}
ExecStart=${argv(host).map(unitWord).join(' ')}
# A pass may take hours. On stop, SIGTERM lets the tenants in flight finish (each bounded by
# REQUEST_TIMEOUT_MS, 60 s by default) and saves the state, so the next run resumes.
TimeoutStartSec=${has(229) ? 'infinity' : '0'}
TimeoutStopSec=90
# ${logToJournal ? 'STATE_DIR: the only place the run may write; the log (LOG_DIR=-) goes to the journal.' : 'STATE_DIR and LOG_DIR: the only places the run may write.'}
${writable.join('\n')}
ProtectSystem=${has(232) ? 'strict' : 'full'}
ProtectHome=${inHome ? 'read-only' : 'yes'}
${CONFINEMENT.filter(([since]) => has(since))
  .map(([, directive]) => directive)
  .join('\n')}
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

/**
 * A folder under /var/lib or /var/log is created by systemd (235 on), owned by the service's user and
 * with its mode; any other must exist, owned by that user.
 */
function writableFolder(directive: string, base: string, folder: string, mode: string, host: Host): string[] {
  const below = relative(base, folder);
  if (knows(host, 235) && below && !below.startsWith('..'))
    return [`${directive}=${unitWord(below)}`, `${directive}Mode=${mode}`];
  return writablePath(`${folder} must exist, owned by ${host.user}: the run cannot create folders here.`, folder, host);
}

/** ReadWritePaths (231 on); before it, ProtectSystem=full leaves /var writable and there is nothing to say. */
function writablePath(why: string, folder: string, host: Host): string[] {
  return [`# ${why}`, ...(knows(host, 231) ? [`ReadWritePaths=${unitWord(folder)}`] : [])];
}

/** Whether the host's systemd knows what came with release `since`. */
function knows(host: Host, since: number): boolean {
  return (host.systemdVersion ?? NEWEST_SYSTEMD) >= since;
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
