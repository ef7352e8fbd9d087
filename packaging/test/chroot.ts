import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { outcome, type CliResult } from '../../test/e2e/harness';
import { missing } from '../../test/tools';

/** The checkout; the artifacts are where the packaging scripts write them. */
export const CHECKOUT = resolve(__dirname, '../../..');
export const VERSION = (JSON.parse(readFileSync(resolve(CHECKOUT, 'package.json'), 'utf8')) as { version: string })
  .version;

export function artifact(name: string): string {
  return resolve(CHECKOUT, 'release', name);
}

const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * For `test(name, { skip: needsRoot('rpm') }, ...)`: a chroot, mounts and file owners need root (and
 * so does building the image, which records file owners).
 */
export function needsRoot(...commands: string[]): string | false {
  if (process.getuid?.() !== 0) return 'needs root (chroot, mounts, file owners)';
  for (const command of ['unshare', 'chroot', 'mount', ...commands]) {
    const reason = missing(command);
    if (reason) return reason;
  }
  return false;
}

/**
 * Runs `command` in a chroot at `root` as uid:gid, with only `env` in its environment, as a
 * container runtime or cron would start it: in a mount namespace of its own where /proc, /dev/null and
 * /dev/urandom are mounted below `root` and vanish with it. Its environment is `env` and a PATH. The network namespace is the host's, so
 * a simulator on 127.0.0.1 is reachable.
 */
export function inChroot(
  root: string,
  user: { uid: number; gid: number },
  command: string[],
  env: Record<string, string>,
): Promise<CliResult> {
  // cron gives a job a PATH too; inside the chroot it names nothing.
  const script = `
set -eu
root=$1; shift
mkdir -p "$root/proc" "$root/dev"
mount -t proc proc "$root/proc"
for device in null urandom; do
  [ -e "$root/dev/$device" ] || : >"$root/dev/$device"
  mount --bind "/dev/$device" "$root/dev/$device"
done
exec chroot --userspec=${user.uid}:${user.gid} --groups=${user.gid} "$root" "$@"
`;
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', root, ...command], {
    env: { PATH: HOST_PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return outcome(child);
}

/** Runs a host command (a packaging tool) to its end. */
export function host(command: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return outcome(spawn(command, args, { env: { PATH: HOST_PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** The lines of /etc/passwd below `root` as name -> uid, gid. */
export function passwd(root: string): Map<string, { uid: number; gid: number }> {
  return new Map(
    readFileSync(resolve(root, 'etc/passwd'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(':'))
      .map(([name, , uid, gid]) => [name!, { uid: Number(uid), gid: Number(gid) }]),
  );
}
