import { Document } from 'yaml';
import { LOG_TO_STDOUT } from '../runtime/logger';

/**
 * What `setup kubernetes` prints: a ConfigMap of the settings, a PersistentVolumeClaim for the state, and
 * a CronJob that starts a run every minute in the release's container image, as confined as a pod can
 * be. The password stays out of it: it comes from a Secret the operator creates.
 */
export interface KubernetesSetup {
  /** The container image, `o365-backsync:<version>` unless told. */
  image: string;
  /** The settings of the env file, by variable; the file and log places are the manifest's own. */
  settings: Record<string, string>;
}

export const KUBERNETES_NAME = 'o365-backsync';

/** Where the state volume is mounted: the image's STATE_DIR. */
export const STATE_MOUNT = '/var/lib/o365-backsync';

/**
 * STATE_DIR is a folder the tool creates inside the volume, 0700 and its own. The volume's root is
 * not fit for it: with `fsGroup`, Kubernetes makes it group-writable (and setgid), and a STATE_DIR
 * that others can write is refused, since it decides which tenants count as done.
 */
export const STATE_DIR_IN_POD = `${STATE_MOUNT}/state`;

/**
 * The pod's user and group: any uid but 0 works (the tool needs no passwd entry), and `fsGroup` lets
 * that uid write the volume whatever uid the volume's files had.
 */
export const POD_UID = 10001;

/** Settings the pod sets itself, or cannot use: the password (a Secret), the places of files. */
const NOT_IN_CONFIGMAP = new Set(['OA_PASSWORD', 'LOG_DIR', 'STATE_DIR', 'METRICS_FILE']);

export function kubernetesManifest(setup: KubernetesSetup): string {
  const labels = { 'app.kubernetes.io/name': KUBERNETES_NAME };
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: KUBERNETES_NAME, labels },
    data: {
      ...Object.fromEntries(Object.entries(setup.settings).filter(([variable]) => !NOT_IN_CONFIGMAP.has(variable))),
      LOG_DIR: LOG_TO_STDOUT,
      STATE_DIR: STATE_DIR_IN_POD,
    },
  };
  const claim = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: `${KUBERNETES_NAME}-state`, labels },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } } },
  };
  const cronJob = {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: KUBERNETES_NAME, labels },
    spec: {
      schedule: '* * * * *',
      // Never a second run while one is active: the run lock cannot see across pods (see the README).
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 50,
      successfulJobsHistoryLimit: 1,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels },
        spec: {
          // A failed run is not retried by Kubernetes: the next minute's run resumes the pass.
          backoffLimit: 0,
          template: {
            metadata: { labels },
            spec: {
              restartPolicy: 'Never',
              // SIGTERM lets the tenants in flight finish (each bounded by REQUEST_TIMEOUT_MS) and saves the state.
              terminationGracePeriodSeconds: 90,
              automountServiceAccountToken: false,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: POD_UID,
                runAsGroup: POD_UID,
                fsGroup: POD_UID,
                // Set the volume's group once, on an empty volume: changing it on every start would make the
                // tool's own STATE_DIR group-writable too.
                fsGroupChangePolicy: 'OnRootMismatch',
                seccompProfile: { type: 'RuntimeDefault' },
              },
              containers: [
                {
                  name: KUBERNETES_NAME,
                  image: setup.image,
                  imagePullPolicy: 'IfNotPresent',
                  args: ['sync'],
                  envFrom: [{ configMapRef: { name: KUBERNETES_NAME } }],
                  env: [
                    {
                      name: 'OA_PASSWORD',
                      valueFrom: { secretKeyRef: { name: KUBERNETES_NAME, key: 'OA_PASSWORD', optional: true } },
                    },
                  ],
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    privileged: false,
                    capabilities: { drop: ['ALL'] },
                  },
                  // A pass peaks under 100 MB at a million tenants; its time is spent waiting on the controller.
                  resources: {
                    requests: { cpu: '50m', memory: '128Mi' },
                    limits: { cpu: '1', memory: '256Mi' },
                  },
                  volumeMounts: [{ name: 'state', mountPath: STATE_MOUNT }],
                },
              ],
              volumes: [{ name: 'state', persistentVolumeClaim: { claimName: claim.metadata.name } }],
            },
          },
        },
      },
    },
  };
  const header = [
    ` o365-backsync in Kubernetes, written by \`o365-backsync setup kubernetes\`: apply with`,
    `   o365-backsync setup kubernetes | kubectl apply -f -`,
    ` With OA_USER set, put OA's password in a Secret first:`,
    `   kubectl create secret generic ${KUBERNETES_NAME} --from-literal=OA_PASSWORD='...'`,
    ` The image must be where the cluster pulls from: load the release's OCI archive into its registry`,
    ` and name it with --image. The log is the pod's stdout: kubectl logs job/<job>.`,
  ].join('\n');
  return [configMap, claim, cronJob]
    .map((resource, i) => {
      const document = new Document(resource, { aliasDuplicateObjects: false });
      if (i === 0) document.commentBefore = header;
      return document.toString({ lineWidth: 0 });
    })
    .join('---\n');
}
