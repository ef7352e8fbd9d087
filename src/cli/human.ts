/**
 * A length of time as a person reads it at a glance: 7s, 3m12s, 2h05m, 3d04h. Each unit is cut, never
 * rounded up, so the shown time is never more than the real one: a pass due in 59m59.6s is "in 59m59s",
 * not "in 1h00m", and every unit agrees with the ones above it.
 */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d${pad(Math.floor((s % 86_400) / 3600))}h`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
