/**
 * What reaches a person's terminal. Remote words (a controller's error message, a tenant failure
 * kept in last-pass.json) can hold ESC and BEL sequences that retitle the terminal, clear the screen
 * or move the cursor over earlier lines. Every human-readable line this tool prints passes through
 * `printable`, which shows each control character as `\xNN` instead of sending it; tab and our own
 * line breaks are kept. The JSON outputs need none of this: JSON.stringify escapes them already.
 */
// C0 controls except tab and newline, DEL, and the C1 controls (CSI U+009B starts a sequence too).
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

export function printable(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * A reader that went away (`check | head -1`) closes our stdout or stderr: the next write fails with
 * EPIPE, which Node raises as an unhandled 'error' with a stack. Output then simply stops; the run
 * itself goes on, so a pass still saves its state, and exits with its own code.
 */
export function quietOnClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
    });
  }
}
