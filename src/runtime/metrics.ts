import { writeFileAtomic } from './atomic-file';
import type { LastRun } from './last-run';
import type { LastPass } from './pass-record';
import type { PassHeader, PassStateStore } from './pass-state';

/**
 * Metrics for node_exporter's textfile collector, so monitoring can alert on a success timestamp that
 * goes stale, on failed tenants, on a pass that never ends, and on runs that end non-zero. They are rendered from the state files
 * alone, the same ones `status` reads, so every run can rewrite the whole file from scratch; it is
 * replaced by rename, so the collector never reads half of it. No secrets: readable by all (0644).
 */
export interface MetricsSource {
  last?: LastPass;
  unfinished?: PassHeader;
  lastRun?: LastRun;
}

const PREFIX = 'o365_backsync_';

export function renderMetrics({ last, unfinished, lastRun }: MetricsSource): string {
  const lines: string[] = [];
  const gauge = (name: string, help: string, samples: [labels: string, value: number][]): void => {
    lines.push(
      `# HELP ${PREFIX}${name} ${help}`,
      `# TYPE ${PREFIX}${name} gauge`,
      ...samples.map(([labels, value]) => `${PREFIX}${name}${labels} ${value}`),
    );
  };
  if (lastRun) {
    gauge(
      'last_run_exit_code',
      'Exit code of the last run that took the lock, whatever it did (0 also when no pass was due).',
      [['', lastRun.exitCode]],
    );
    gauge('last_run_timestamp_seconds', 'When the last run that took the lock ended, in Unix time.', [
      ['', unixSeconds(lastRun.finishedAt)],
    ]);
  }
  const lastSuccess = last?.lastCompleteAt;
  if (lastSuccess) {
    gauge(
      'last_success_timestamp_seconds',
      'When the last full pass that reached every instance finished, in Unix time (tenant failures do not hold it back).',
      [['', unixSeconds(lastSuccess)]],
    );
  }
  if (last) {
    gauge('last_pass_end_timestamp_seconds', 'When the last full pass finished, in Unix time.', [
      ['', unixSeconds(last.finishedAt)],
    ]);
    gauge('last_pass_duration_seconds', 'Working time of the last full pass, summed over the runs that did it.', [
      ['', last.durationMs / 1000],
    ]);
    gauge('last_pass_complete', '1 if the last full pass reached every instance, else 0.', [
      ['', last.complete ? 1 : 0],
    ]);
    gauge(
      'last_pass_tenants',
      'Tenants of the last full pass, by outcome (skipped: removed before their resync; busy: still synchronizing, not started again).',
      [
        ['{outcome="synced"}', last.synced],
        ['{outcome="failed"}', last.failed],
        ['{outcome="skipped"}', last.skipped],
        ['{outcome="busy"}', last.busy],
      ],
    );
    gauge(
      'last_pass_last_sync_failed',
      'Tenants of the last full pass whose sync status said their last Microsoft synchronization had failed (resynced again).',
      [['', last.lastSyncFailed]],
    );
    gauge(
      'last_pass_invalid_items',
      'Listed items of the last full pass that were not tenants (no or an invalid aps.id), passed over.',
      [['', last.invalid]],
    );
    gauge('last_pass_token_renewals', 'APS token renewals during the last full pass.', [['', last.tokenRefreshes]]);
  }
  gauge(
    'pass_in_progress',
    '1 from the start of a full pass until it finishes, across the runs that resume it; else 0.',
    [['', unfinished ? 1 : 0]],
  );
  if (unfinished) {
    gauge('pass_in_progress_start_timestamp_seconds', 'When the full pass in progress started, in Unix time.', [
      ['', unixSeconds(unfinished.startedAt)],
    ]);
  }
  return `${lines.join('\n')}\n`;
}

/** Rewrites the metrics file from the state files as they are now, and how the last run ended. */
export function writeMetrics(path: string, store: PassStateStore, lastRun: LastRun | undefined): void {
  const unfinished = store.unfinished();
  // A damaged pass file is no pass in progress: the next run discards it.
  writeFileAtomic(
    path,
    renderMetrics({ last: store.lastPass(), unfinished: unfinished === 'damaged' ? undefined : unfinished, lastRun }),
    0o644,
  );
}

function unixSeconds(iso: string): number {
  return Date.parse(iso) / 1000;
}
