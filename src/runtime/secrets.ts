import { basicCredentials } from '../http/basic-auth';
import { withoutUrlCredentials } from '../http/remote-text';

/**
 * The last line of defence for secrets: every text the tool writes (log lines, stderr, --json, `check`,
 * traces) passes through `scrub`, which blanks the OA password and every APS token issued in this run,
 * and takes the credentials out of any URL. Redacting
 * known fields is not enough on its own, because a remote may echo a secret back in an error message.
 */
export class SecretScrubber {
  private readonly values = new Set<string>();

  add(value: string | undefined): void {
    // Very short values would blank ordinary words; no real password or token is that short.
    if (!value || value.length < 4) return;
    this.values.add(value);
    this.values.add(JSON.stringify(value).slice(1, -1));
    // A token in a query string or an echoed URL travels percent-encoded (base64's + / = are escaped).
    this.values.add(encodeURIComponent(value));
  }

  /** The OA password, and the form HTTP basic auth sends it in, which a remote may echo back. */
  addCredentials(user: string | undefined, password: string | undefined): void {
    this.add(password);
    if (user !== undefined && password !== undefined) this.add(basicCredentials(user, password));
  }

  scrub(text: string): string {
    let out = withoutUrlCredentials(text);
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join('[REDACTED]');
    return out;
  }
}
