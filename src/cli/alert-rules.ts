import type { SetupFile } from './setup-files';

/**
 * Prometheus alerting rules over the metrics a run writes (METRICS_FILE, read by node_exporter's
 * textfile collector; see runtime/metrics.ts): what monitoring should page on, ready to copy. Each
 * rule waits (`for`) long enough that one bad minute of cron does not page anyone.
 */
export function alertRulesFile(): SetupFile {
  return {
    path: '/etc/prometheus/o365-backsync.rules.yml',
    text: `# /etc/prometheus/o365-backsync.rules.yml: alerting rules for o365-backsync's metrics (METRICS_FILE,
# read by node_exporter's textfile collector). Written by \`o365-backsync setup alerts\`. List this file
# under rule_files in prometheus.yml; \`promtool check rules\` checks it. The thresholds are a start:
# widen O365BacksyncNoCompletePass if a full pass of your installation takes longer than a day.
groups:
  - name: o365-backsync
    rules:
      - alert: O365BacksyncNoCompletePass
        expr: time() - o365_backsync_last_success_timestamp_seconds > 86400
        for: 15m
        labels:
          severity: warning
        annotations:
          summary: No complete o365-backsync pass for over a day on {{ $labels.instance }}
          description: >-
            The last pass that reached every instance finished {{ $value | humanizeDuration }} ago.
            Run \`o365-backsync status\` for how the last runs ended, and \`o365-backsync check\`.
      - alert: O365BacksyncRunsFailing
        expr: o365_backsync_last_run_exit_code != 0
        for: 30m
        labels:
          severity: warning
        annotations:
          summary: o365-backsync runs end with exit code {{ $value }} on {{ $labels.instance }}
          description: >-
            Every run for 30 minutes ended non-zero (3: OA or the controller unreachable or refusing;
            2: a setting refused; 4: a file of its own could not be written). \`o365-backsync status\`
            shows the last run's reason.
      - alert: O365BacksyncNotRunning
        expr: time() - o365_backsync_last_run_timestamp_seconds > 3600
        for: 15m
        labels:
          severity: warning
        annotations:
          summary: No o365-backsync run has ended for over an hour on {{ $labels.instance }}
          description: >-
            cron or the systemd timer starts a run every minute; the last one ended
            {{ $value | humanizeDuration }} ago. Check the schedule, and for a pass still running,
            \`o365-backsync status\`.
      - alert: O365BacksyncTenantsFailed
        expr: o365_backsync_last_pass_tenants{outcome="failed"} > 0
        labels:
          severity: warning
        annotations:
          summary: "{{ $value }} tenants failed their resync in the last o365-backsync pass on {{ $labels.instance }}"
          description: >-
            \`o365-backsync status\` lists them with the controller's words; the log has each one.
      - alert: O365BacksyncMicrosoftSyncFailed
        expr: o365_backsync_last_pass_last_sync_failed > 0
        labels:
          severity: warning
        annotations:
          summary: "{{ $value }} tenants' last Microsoft synchronization had failed on {{ $labels.instance }}"
          description: >-
            Their sync status said the last synchronization failed; they were resynced again.
            \`o365-backsync status\` lists them with their lastSync.
`,
  };
}
