import pino from 'pino';
import { traitsOf } from '../errors';
import { SYSTEM_STORE } from '../http/trust';
import { doubtfulSettings, loadConfig, type Config } from '../runtime/config';
import { judgeFolders } from '../runtime/host-folders';
import { logLocation } from '../runtime/logger';
import { SecretScrubber } from '../runtime/secrets';
import { TraceFile } from '../runtime/trace-file';
import type { ApsClient } from '../aps/client';
import type { Authorized, Instance, InstanceToken, TenantController, TenantTypes } from '../sync/ports';
import { connect, controllerUrl, type Clients } from './clients';
import { printable } from './terminal-text';
import { EXIT } from './exit-codes';
import { withFix } from './fixes';

export interface CheckFlags {
  envFile?: string;
  trace?: string;
}

type Outcome = 'ok' | 'warn' | 'FAIL';

/**
 * `check`: walks the path a pass takes (settings, OA, the application, each instance's token, the
 * controller, the tenant listing) and prints one line per step, `ok` or `FAIL` with what to change.
 * It reads only: instances, tokens and one-item listing pages, never a resync. Exit 0 when every step
 * passed, 3 when one failed, 2 when the settings themselves are wrong.
 */
export async function checkCommand(flags: CheckFlags): Promise<number> {
  const scrubber = new SecretScrubber();
  let failed = false;
  const line = (outcome: Outcome, step: string, detail: string): void => {
    if (outcome === 'FAIL') failed = true;
    process.stdout.write(printable(scrubber.scrub(`${outcome.padEnd(4)} ${step}: ${detail}\n`)));
  };

  let config: Config;
  try {
    config = loadConfig({ envFile: flags.envFile });
  } catch (e) {
    line('FAIL', 'config', (e as Error).message);
    return EXIT.usage;
  }
  scrubber.addCredentials(config.oaUser, config.oaPassword);
  let trace: TraceFile | undefined;
  try {
    trace = flags.trace
      ? new TraceFile(flags.trace, {
          scrubber,
          maxEntries: config.traceMaxEntries,
          onError: (message) => line('warn', 'trace', message),
          kept: { stateDir: config.stateDir, logFile: logLocation(config.logDir) },
        })
      : undefined;
  } catch (e) {
    line('FAIL', 'trace', (e as Error).message);
    return EXIT.usage;
  }
  line(
    'ok',
    'config',
    `${config.envFile ? config.envFile.path : 'no env file, environment only'}; application ${config.officeAppId}, OA at ${config.oaHost}:${config.oaPort}`,
  );
  if (config.envFile?.readableByOthers)
    line(
      'warn',
      'config',
      `${config.envFile.path} can be read by group or others and holds secrets; fix: chmod 600 ${config.envFile.path}`,
    );
  for (const doubt of doubtfulSettings(config)) line('warn', 'config', doubt);
  checkFolders(config, line);

  // A doctor reports what it finds at once rather than retrying its way past it, and lists one tenant a page.
  const clients = connect({ ...config, retries: 0, pageSize: 1 }, scrubber, pino({ enabled: false }), undefined, trace);
  try {
    const instances = await checkOa(config, clients, line);
    for (const instance of instances ?? []) await checkInstance(config, clients, instance, line);
  } finally {
    await clients.close();
  }
  return failed ? EXIT.unreachable : EXIT.ok;
}

type Line = (outcome: Outcome, step: string, detail: string) => void;

/**
 * The folders a run writes to, judged as `sync` judges them: a folder it refuses (or cannot write)
 * fails here in its words, and one it only warns about is a warning.
 */
function checkFolders(config: Config, line: Line): void {
  const verdicts = judgeFolders(config);
  const refused = verdicts.filter((v) => v.refusal);
  for (const v of verdicts) if (v.warning) line('warn', 'folders', v.warning);
  if (refused.length) line('FAIL', 'folders', refused.map((v) => `${v.setting}: ${v.refusal}`).join('; '));
  else line('ok', 'folders', verdicts.map((v) => `${v.setting} ${v.folder}`).join(', '));
}

/** OA reachable, credentials accepted, the application found: its instances, or undefined. */
async function checkOa(config: Config, clients: Clients, line: Line): Promise<Instance[] | undefined> {
  const step = 'OA Public API';
  // An OA error reply (status -1) is about the application: OA itself answered and took the credentials.
  const https = config.oaTls ? ` over https, certificate trusted by ${trustedBy('OA_CA_FILE', config.oaCaFile)}` : '';
  const answered = (): void =>
    line(
      'ok',
      step,
      `answered at ${config.oaHost}:${config.oaPort}${https}${config.oaUser ? ', credentials accepted' : ''}`,
    );
  let instances: Instance[];
  try {
    instances = await clients.directory.listInstances(config.officeAppId);
  } catch (e) {
    if (traitsOf(e).code !== 'OBS_ERR_OA') {
      line('FAIL', step, withFix(e, config));
      return undefined;
    }
    answered();
    line('FAIL', `application ${config.officeAppId}`, withFix(e, config));
    return undefined;
  }
  answered();
  if (instances.length === 0) {
    line(
      'FAIL',
      `application ${config.officeAppId}`,
      'has no instances; fix: check OFFICE_APP_ID is the Office 365 application (not another one)',
    );
  } else {
    line(
      'ok',
      `application ${config.officeAppId}`,
      `${instances.length} instance${instances.length === 1 ? '' : 's'} (${instances.map((i) => i.id).join(', ')})`,
    );
  }
  return instances;
}

/** The instance's token, its controller (reachable, certificate trusted) and its tenant count. */
async function checkInstance(config: Config, clients: Clients, instance: Instance, line: Line): Promise<void> {
  const step = `instance ${instance.id}`;
  let token: InstanceToken;
  try {
    token = await clients.directory.issueToken(instance.id);
  } catch (e) {
    line('FAIL', step, `no APS token: ${withFix(e, config)}`);
    return;
  }
  const url = controllerUrl(config, token);
  line('ok', step, `token issued; controller ${url}${config.apsUrl ? ' (APS_URL)' : ''}`);
  let count: number;
  let types: TenantTypes;
  const controller = clients.controllerFor(instance, token);
  try {
    types = await controller.tenantTypes((call) => call(token.token));
    count = await controller.countTenants(token.token);
  } catch (e) {
    line('FAIL', `controller ${url}`, withFix(e, config));
    return;
  }
  const tls = url.startsWith('https:') ? controllerTrust(config) : 'plain http';
  line(config.apsTlsInsecure ? 'warn' : 'ok', `controller ${url}`, `reachable, ${tls}`);
  try {
    await checkTenantTypes(controller, token.token, types, count, step, line);
  } catch (e) {
    line('FAIL', `controller ${url}`, withFix(e, config));
    return;
  }
  if (count > 0 && controller.syncStatus) await checkSyncStatus(config, controller, token.token, step, line);
}

/**
 * The tenant types sync walks and their ready tenants; with the types library readable, every tenant
 * type version it holds and the ready tenants of each (`implementing()` of a version also returns those
 * of versions implementing it, so such tenants count under both).
 */
async function checkTenantTypes(
  controller: ApsClient,
  token: string,
  types: TenantTypes,
  count: number,
  step: string,
  line: Line,
): Promise<void> {
  const tenants = (n: number): string => `${n} ready tenant${n === 1 ? '' : 's'}`;
  const walked = types.listed.join(', ');
  if (types.source === 'fallback')
    line(
      'warn',
      step,
      `the types library could not tell the tenant types (${types.unreadable}): sync walks ${walked}; set APS_TENANT_TYPE to this installation's tenant type`,
    );
  if (types.source === 'library')
    line(count === 0 ? 'warn' : 'ok', step, `${tenants(count)} of the tenant types found, walked as ${walked}`);
  else if (count === 0)
    line(
      'warn',
      step,
      `0 ready tenants of type ${walked}; if this instance has tenants, ${types.source === 'setting' ? 'APS_TENANT_TYPE is probably wrong' : 'set APS_TENANT_TYPE'} (the version differs between releases, e.g. .../Tenant/2.8)`,
    );
  else line('ok', step, `${tenants(count)} of type ${walked}${types.source === 'setting' ? ' (APS_TENANT_TYPE)' : ''}`);
  // Found or not, sync read the library already; with APS_TENANT_TYPE set, only check reads it.
  const library: { found?: string[]; unreadable?: string } =
    types.source === 'setting' ? await controller.libraryTenantTypes((call) => call(token)) : types;
  if (!library.found) {
    if (types.source === 'setting') line('warn', step, `the types library could not be read: ${library.unreadable}`);
    return;
  }
  const counts: string[] = [];
  for (const type of library.found) counts.push(`${type}: ${tenants(await controller.countTenants(token, [type]))}`);
  line('ok', step, `tenant types in the types library: ${counts.length ? counts.join(', ') : 'none'}`);
}

/** Whether the instance's application answers the sync status operation, asked of its first ready tenant. */
async function checkSyncStatus(
  config: Config,
  controller: TenantController,
  token: string,
  step: string,
  line: Line,
): Promise<void> {
  const authorized: Authorized = (call) => call(token);
  try {
    for await (const tenant of controller.listTenants({ authorized })) {
      const status = await controller.syncStatus!(tenant.id, authorized);
      if (status)
        line(
          'ok',
          step,
          `${config.syncStatusOperation} answered (tenant ${tenant.id}: inProgress ${status.inProgress}, lastSync ${status.lastSync})`,
        );
      else {
        line(
          'warn',
          step,
          `no ${config.syncStatusOperation} operation (application before 20.7.2): busy tenants and failed synchronizations are not seen; sync resyncs as before`,
        );
      }
      return;
    }
  } catch (e) {
    line('FAIL', step, `${config.syncStatusOperation}: ${(e as Error).message}`);
  }
}

/** Which trust let the controller's certificate through. */
function controllerTrust(config: Config): string {
  if (config.apsTlsInsecure) return 'certificate NOT verified (APS_TLS_INSECURE)';
  if (!config.apsCertSha256) return `certificate trusted by ${trustedBy('APS_CA_FILE', config.apsCaFile)}`;
  return `certificate pinned (APS_CERT_SHA256)${config.apsCaFile ? ` and trusted by ${trustedBy('APS_CA_FILE', config.apsCaFile)}` : ''}`;
}

/** The CAs a connection trusts, as the operator set them. */
function trustedBy(variable: string, caFile: string | undefined): string {
  if (caFile === undefined) return `Node.js's built-in CAs (${variable} unset)`;
  if (caFile === SYSTEM_STORE) return `the host's trust store (${variable}=${SYSTEM_STORE})`;
  return `${caFile} (${variable})`;
}
