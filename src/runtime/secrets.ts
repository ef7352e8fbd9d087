import { basicCredentials } from '../http/basic-auth';
import { blankSecretsBeforeCuts, withoutUrlCredentials } from '../http/remote-text';

/**
 * The last line of defence for secrets: every text the tool writes (log lines, stderr, --json, `check`,
 * traces) passes through `scrub`, which blanks the OA password and every APS token issued in this run,
 * and takes the credentials out of any URL. Redacting
 * known fields is not enough on its own, because a remote may echo a secret back in an error message.
 */
export class SecretScrubber {
  private readonly values = new Set<string>();
  /** Short secrets, blanked only where they stand apart from letters and digits (see `add`). */
  private readonly shortValues = new Set<string>();

  constructor() {
    // Remote words are cut to an excerpt where they are read; the secrets go before the cut.
    blankSecretsBeforeCuts((text) => this.scrub(text));
  }

  /**
   * A secret to blank: a token, or a password (`anyLength`), which is blanked however short it is. A
   * value under SHORT characters is blanked only where no letter, digit or backslash touches it:
   * blanked inside words, "se" would also take "false" apart (and "n" the JSON escape "\\n") and
   * break every JSON log line, while a word that holds it gives nothing of it away. A short one that
   * is a number is not blanked: it would turn the log's numbers into text, and it guards nothing.
   */
  add(value: string | undefined, anyLength = false): void {
    if (!value) return;
    if (value.length >= SHORT) for (const form of forms(value)) this.values.add(form);
    else if (anyLength && Number.isNaN(Number(value))) for (const form of forms(value)) this.shortValues.add(form);
  }

  /** The OA password, and the form HTTP basic auth sends it in, which a remote may echo back. */
  addCredentials(user: string | undefined, password: string | undefined): void {
    this.add(password, true);
    if (user !== undefined && password !== undefined) this.add(basicCredentials(user, password));
  }

  scrub(text: string): string {
    let out = withoutUrlCredentials(text);
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join(PLACEHOLDER);
    for (const v of this.shortValues) if (out.includes(v)) out = blankStandingApart(out, v);
    return out;
  }
}

const PLACEHOLDER = '[REDACTED]';
const SHORT = 4;

const TOUCHING = /[\p{L}\p{N}\\]/u;

/** `text` with every `value` that no letter, digit or backslash touches blanked. */
function blankStandingApart(text: string, value: string): string {
  let out = '';
  let from = 0;
  for (let at = text.indexOf(value); at >= 0; at = text.indexOf(value, at + value.length)) {
    const apart = !TOUCHING.test(text[at - 1] ?? '') && !TOUCHING.test(text[at + value.length] ?? '');
    if (!apart) continue;
    out += text.slice(from, at) + PLACEHOLDER;
    from = at + value.length;
  }
  return out + text.slice(from);
}

/** A secret as it is written, as JSON escapes it, and percent-encoded, as a query string or an echoed URL has it. */
function forms(value: string): string[] {
  return [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)];
}
