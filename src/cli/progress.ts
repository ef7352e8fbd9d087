import { MultiBar, type SingleBar } from 'cli-progress';
import type { Instance, PassEvents } from '../sync/ports';
import { duration } from './human';

interface InstanceBar {
  bar: SingleBar;
  value: number;
  /** Tenants this run resynced, for the rate: those an earlier run had done fly past and would inflate it. */
  worked: number;
  startedAt: number;
}

/**
 * Live progress for a person at a terminal, one line per instance redrawn in place:
 * `instance 1001: 230/500 tenants, 41/s, ETA 7s`. Lines meant for the terminal go through log(), which
 * prints them above the bars rather than through them. Only interactive runs load this module.
 */
export class PassProgress {
  private multibar?: MultiBar;
  private readonly bars = new Map<number, InstanceBar>();
  // A second Ctrl-C exits at once; the terminal must not be left without its cursor.
  private readonly restoreTerminal = (): void => this.stop();

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly now: () => number = () => performance.now(),
  ) {}

  readonly events: PassEvents = {
    tenantsCounted: (instance, total) => this.counted(instance, total),
    tenantDone: (instance) => this.advance(instance, true),
    tenantAlreadyDone: (instance) => this.advance(instance, false),
  };

  log(text: string): void {
    if (this.multibar) this.multibar.log(text);
    else this.stream.write(text);
  }

  /** Draws the bars one last time and gives the terminal back. */
  stop(): void {
    if (!this.multibar) return;
    // stop() draws the bars but not the log lines still waiting for the next redraw.
    this.multibar.update();
    this.multibar.stop();
    this.multibar = undefined;
    process.off('exit', this.restoreTerminal);
  }

  private counted(instance: Instance, total: number): void {
    const existing = this.bars.get(instance.id);
    if (existing) return existing.bar.setTotal(total);
    if (!this.multibar) {
      this.multibar = new MultiBar({
        stream: this.stream,
        format: '{bar} instance {instance}: {value}/{total} tenants, {rate}/s, ETA {remaining}',
        barsize: 20,
        hideCursor: true,
        fps: 5,
        // Wrapped, not cut: log lines printed above the bars can be long. The bars themselves are cut
        // to the terminal's width either way, so wrapping cannot upset their redrawing.
        linewrap: true,
      });
      process.on('exit', this.restoreTerminal);
    }
    const bar = this.multibar.create(total, 0, { instance: instance.id, rate: 0, remaining: total === 0 ? '0s' : '?' });
    this.bars.set(instance.id, { bar, value: 0, worked: 0, startedAt: this.now() });
  }

  private advance(instance: Instance, worked: boolean): void {
    const state = this.bars.get(instance.id);
    if (!state) return;
    state.value++;
    if (worked) state.worked++;
    const seconds = (this.now() - state.startedAt) / 1000;
    const rate = seconds > 0 ? state.worked / seconds : 0;
    const left = Math.max(0, state.bar.getTotal() - state.value);
    state.bar.update(state.value, {
      rate: Math.round(rate),
      remaining: left === 0 ? '0s' : rate > 0 ? duration(left / rate) : '?',
    });
  }
}
