import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { parseAllDocuments } from 'yaml';
import { missing } from '../tools';
import { runCli, runCliThrough, simulatorSetup, workdir, writeEnvFile, type Workdir } from './harness';

/** `setup kubernetes`: a manifest that passes the Kubernetes schemas, and a pod's view of it that runs. */
const setup = simulatorSetup();
const VERSION = (require('../../../package.json') as { version: string }).version;

/** Each kind the manifest holds, checked against the schema of its API version. */
const MODELS: Record<string, (object: Record<string, unknown>) => { validate(): void }> = {
  'v1/ConfigMap': (o) => new ConfigMap(o as never),
  'v1/PersistentVolumeClaim': (o) => new PersistentVolumeClaim(o as never),
  'batch/v1/CronJob': (o) => new CronJob(o as never),
};

// The manifest's shape, as far as these tests read it.
interface Container {
  image: string;
  args: string[];
  env: { name: string; valueFrom: { secretKeyRef: { name: string; key: string } } }[];
  envFrom: { configMapRef: { name: string } }[];
  securityContext: Record<string, unknown>;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  volumeMounts: { name: string; mountPath: string }[];
}
interface PodSpec {
  restartPolicy: string;
  securityContext: { runAsUser: number; runAsGroup: number; fsGroup: number } & Record<string, unknown>;
  containers: Container[];
  volumes: { name: string; persistentVolumeClaim: { claimName: string } }[];
}
interface Manifest {
  configMap: { metadata: { name: string }; data: Record<string, string> };
  claim: { metadata: { name: string } };
  cronJob: {
    spec: Record<string, unknown> & { jobTemplate: { spec: { backoffLimit: number; template: { spec: PodSpec } } } };
  };
}

async function manifest(w: Workdir, env: Record<string, string>, more: string[] = []): Promise<Manifest> {
  const envFile = writeEnvFile(w, env);
  const printed = await runCli(['setup', 'kubernetes', '--env-file', envFile, ...more], {}, w.cwd);
  assert.equal(printed.code, 0, printed.stderr);
  assert.equal(printed.stderr, '');
  const documents = parseAllDocuments(printed.stdout).map((d) => {
    assert.deepEqual(d.errors, []);
    return d.toJS() as Record<string, unknown> & { apiVersion: string; kind: string };
  });
  for (const d of documents) {
    const model = MODELS[`${d.apiVersion}/${d.kind}`];
    assert.ok(model, `${d.apiVersion} ${d.kind} is not expected in the manifest`);
    model(d).validate();
  }
  assert.deepEqual(
    documents.map((d) => d.kind),
    ['ConfigMap', 'PersistentVolumeClaim', 'CronJob'],
  );
  const [configMap, claim, cronJob] = documents;
  return { configMap, claim, cronJob } as unknown as Manifest;
}

test('setup kubernetes prints a ConfigMap, a PersistentVolumeClaim and a CronJob that pass the Kubernetes schemas', async () => {
  const w = workdir();
  const m = await manifest(w, {
    OFFICE_APP_ID: '41',
    OA_HOST: '10.0.0.10',
    OA_USER: 'api',
    OA_PASSWORD: 'pw',
    RETRIES: '5',
    LOG_DIR: '/var/log/x',
  });
  // The settings of the env file, but never the password, and the pod's own log and state places.
  assert.deepEqual(m.configMap.data, {
    OFFICE_APP_ID: '41',
    OA_HOST: '10.0.0.10',
    OA_USER: 'api',
    RETRIES: '5',
    LOG_DIR: '-',
    STATE_DIR: '/var/lib/o365-backsync/state',
  });
  const { spec } = m.cronJob;
  assert.equal(spec.schedule, '* * * * *');
  assert.equal(spec.concurrencyPolicy, 'Forbid');
  assert.ok(typeof spec.startingDeadlineSeconds === 'number' && spec.startingDeadlineSeconds < 60);
  assert.equal(spec.jobTemplate.spec.backoffLimit, 0);
  const pod = spec.jobTemplate.spec.template.spec;
  assert.equal(pod.restartPolicy, 'Never');
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.notEqual(pod.securityContext.runAsUser, 0);
  assert.deepEqual(pod.securityContext.seccompProfile, { type: 'RuntimeDefault' });
  const [container] = pod.containers;
  assert.equal(pod.containers.length, 1);
  assert.equal(container!.image, `o365-backsync:${VERSION}`);
  assert.deepEqual(container!.args, ['sync']);
  assert.deepEqual(container!.securityContext, {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    privileged: false,
    capabilities: { drop: ['ALL'] },
  });
  for (const kind of ['requests', 'limits'] as const)
    assert.deepEqual(Object.keys(container!.resources[kind]).sort(), ['cpu', 'memory']);
  assert.deepEqual(container!.envFrom, [{ configMapRef: { name: m.configMap.metadata.name } }]);
  assert.deepEqual(
    container!.env.map((e) => [e.name, e.valueFrom.secretKeyRef.key]),
    [['OA_PASSWORD', 'OA_PASSWORD']],
  );
  assert.deepEqual(container!.volumeMounts, [{ name: 'state', mountPath: '/var/lib/o365-backsync' }]);
  assert.deepEqual(pod.volumes, [{ name: 'state', persistentVolumeClaim: { claimName: m.claim.metadata.name } }]);

  const named = await manifest(w, { OFFICE_APP_ID: '41', OA_HOST: 'oa' }, [
    '--image',
    'registry.example/ops/o365-backsync:1',
  ]);
  assert.equal(
    named.cronJob.spec.jobTemplate.spec.template.spec.containers[0]!.image,
    'registry.example/ops/o365-backsync:1',
  );
});

test('the schema check can fail: a CronJob with a restart policy Kubernetes does not know is refused', async () => {
  const m = await manifest(workdir(), { OFFICE_APP_ID: '41', OA_HOST: 'oa' });
  m.cronJob.spec.jobTemplate.spec.template.spec.restartPolicy = 'Sometimes';
  assert.throws(() => MODELS['batch/v1/CronJob']!(m.cronJob as never).validate(), /restartPolicy/);
});

test('setup kubernetes --write is refused in one line: it only prints', async () => {
  const w = workdir();
  const result = await runCli(['setup', 'kubernetes', '--write'], {}, w.cwd);
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    'o365-backsync: --write: setup kubernetes only prints; apply it with: | kubectl apply -f -\n',
  );
});

const notRoot =
  (process.getuid?.() !== 0 && 'needs root, to make a volume as fsGroup leaves it and run as the pod user') ||
  missing('setpriv');

test(
  "the pod's run works on its volume as fsGroup leaves it (group-writable, setgid): STATE_DIR is a folder it makes 0700",
  { skip: notRoot },
  async () => {
    const { sim, w, env } = await setup({ instances: 2, tenantsPerInstance: 5 });
    const m = await manifest(w, { OFFICE_APP_ID: env.OFFICE_APP_ID!, OA_HOST: env.OA_HOST! });
    const pod = m.cronJob.spec.jobTemplate.spec.template.spec;
    const { runAsUser, runAsGroup, fsGroup } = pod.securityContext;
    const mountPath = pod.containers[0]!.volumeMounts[0]!.mountPath;
    // The volume below a root of its own, as kubelet leaves it with fsGroup: its group, g+rwx, setgid.
    chmodSync(w.cwd, 0o755);
    const root = join(w.cwd, 'pod');
    const volume = join(root, mountPath);
    mkdirSync(volume, { recursive: true });
    chownSync(volume, 0, fsGroup);
    chmodSync(volume, 0o2775);
    const podEnv = {
      ...env,
      ...m.configMap.data,
      STATE_DIR: join(root, m.configMap.data.STATE_DIR!),
      SYNC_MIN_INTERVAL: '3600',
    };
    delete (podEnv as Record<string, string>).LOG_DIR;
    const asPod = ['setpriv', `--reuid=${runAsUser}`, `--regid=${runAsGroup}`, `--groups=${fsGroup}`];
    const run = (more: Record<string, string> = {}) =>
      runCliThrough(asPod, ['sync'], { ...podEnv, LOG_DIR: '-', ...more }, w.cwd);

    const pass = await run();
    assert.equal(pass.code, 0, pass.stderr);
    assert.equal(pass.stderr, '');
    const last = JSON.parse(pass.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    assert.deepEqual([last.msg, last.synced], ['pass finished', 10]);
    assert.equal(sim.stats.resyncSucceeded.size, 10);
    const state = statSync(podEnv.STATE_DIR);
    assert.equal(state.uid, runAsUser);
    assert.equal(state.mode & 0o077, 0, `STATE_DIR mode ${(state.mode & 0o7777).toString(8)}`);
    assert.ok(readdirSync(podEnv.STATE_DIR).includes('last-pass.json'));

    // The next minute's pod finds the state the last one left: no pass due.
    const next = await run();
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stdout, /"msg":"not due yet; next pass due at /);
    assert.equal(sim.stats.resyncSucceeded.size, 10);

    // Why a folder of its own: the volume's root, another uid's and group-writable, is refused as STATE_DIR.
    const onRoot = await run({ STATE_DIR: volume });
    assert.equal(onRoot.code, 2);
    assert.match(
      onRoot.stderr,
      new RegExp(`^o365-backsync: STATE_DIR: ${volume} is owned by uid 0, not by this user \\(uid ${runAsUser}\\)`),
    );
  },
);
