import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { SETUP, SETUP_KINDS, type Host, type SetupKind } from '../src/cli/setup-files';

/**
 * Writes the files of every `o365-backsync setup` kind (cron, systemd, logrotate, alerts) for the RPM
 * below a root folder, made by setup's own code for the paths the RPM installs and its service user.
 * None of them is active once installed: the units go where systemd finds them (`systemctl enable`
 * starts them), the others wait under /usr/share/o365-backsync, at their path below /etc, for the
 * operator to copy them.
 *
 * Usage: node packaged-setup-files.js ROOT PREFIX ENV_FILE USER STATE_DIR LOG_DIR
 */
const [root, prefix, envFile, user, stateDir, logDir] = process.argv.slice(2);
if (!root || !prefix || !envFile || !user || !stateDir || !logDir) {
  process.stderr.write('usage: packaged-setup-files ROOT PREFIX ENV_FILE USER STATE_DIR LOG_DIR\n');
  process.exit(2);
}

const host: Host = {
  node: `${prefix}/node/bin/node`,
  cli: `${prefix}/bin/o365-backsync`,
  envFile,
  user,
  logDir,
  stateDir,
};

/** Where the package ships a file that `setup --write` would put at `path` (always below /etc). */
function shippedAt(kind: SetupKind, path: string): string {
  return kind === 'systemd'
    ? `/usr/lib/systemd/system/${basename(path)}`
    : join('/usr/share/o365-backsync', relative('/etc', path));
}

for (const kind of SETUP_KINDS) {
  for (const file of SETUP[kind].files(host)) {
    const at = join(root, shippedAt(kind, file.path));
    mkdirSync(dirname(at), { recursive: true });
    writeFileSync(at, file.text, { mode: 0o644 });
    process.stdout.write(`${shippedAt(kind, file.path)}\n`);
  }
}
