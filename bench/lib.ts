// Shared helpers for every benchmark in bench/: timing, the readable table, and the
// machine-readable `RATIO` / `FIGURE` lines (see DESIGN.md, "Benchmarks").
import { cpus } from 'node:os';

export interface Measurement {
  readonly name: string;
  /** Operations per second, the median of the rounds. */
  readonly opsPerSec: number;
  /** Nanoseconds per operation at that median. */
  readonly nsPerOp: number;
}

export interface MeasureOptions {
  /** Operations per round. */
  readonly ops: number;
  /** Rounds; the median is kept. @default 5 */
  readonly rounds?: number;
  /** Untimed warm-up rounds. @default 2 */
  readonly warmup?: number;
}

/** Prints the Node version and CPU so that a table can be read later. */
export function header(title: string): void {
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  process.stdout.write(`# ${title}\n# node ${process.version}, ${cpus().length} x ${cpu}\n\n`);
}

/**
 * Runs `round(ops)` (which performs `ops` operations, sync or async) `rounds` times and keeps the
 * median, so that one noisy round on a shared machine does not decide the figure.
 */
export async function measure(
  name: string,
  options: MeasureOptions,
  round: (ops: number) => unknown,
): Promise<Measurement> {
  const rounds = options.rounds ?? 5;
  const warmup = options.warmup ?? 2;
  for (let i = 0; i < warmup; i++) await round(options.ops);
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint();
    await round(options.ops);
    const ns = Number(process.hrtime.bigint() - start);
    samples.push(ns / options.ops);
  }
  samples.sort((a, b) => a - b);
  const nsPerOp = samples[Math.floor(samples.length / 2)]!;
  return { name, nsPerOp, opsPerSec: 1e9 / nsPerOp };
}

/**
 * Measures a baseline and the project in alternating rounds and returns both medians plus the
 * median of the per-round ratios (project ops/s over baseline ops/s). On a shared machine the load
 * drifts between rounds; pairing each project round with the baseline round next to it keeps that
 * drift out of the ratio.
 */
export async function interleaved(
  baseline: { readonly name: string; readonly round: (ops: number) => unknown },
  project: { readonly name: string; readonly round: (ops: number) => unknown },
  options: MeasureOptions,
): Promise<{ baseline: Measurement; project: Measurement; ratio: number }> {
  const rounds = options.rounds ?? 7;
  const warmup = options.warmup ?? 2;
  for (let i = 0; i < warmup; i++) {
    await baseline.round(options.ops);
    await project.round(options.ops);
  }
  const time = async (round: (ops: number) => unknown) => {
    const start = process.hrtime.bigint();
    await round(options.ops);
    return Number(process.hrtime.bigint() - start) / options.ops;
  };
  const base: number[] = [];
  const proj: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const b = await time(baseline.round);
    const p = await time(project.round);
    base.push(b);
    proj.push(p);
    ratios.push(b / p);
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const asMeasurement = (name: string, ns: number): Measurement => ({
    name,
    nsPerOp: ns,
    opsPerSec: 1e9 / ns,
  });
  return {
    baseline: asMeasurement(baseline.name, median(base)),
    project: asMeasurement(project.name, median(proj)),
    ratio: median(ratios),
  };
}

/** Prints measurements as an aligned table. */
export function table(rows: readonly Measurement[]): void {
  const width = Math.max(...rows.map((r) => r.name.length), 4);
  process.stdout.write(`${'case'.padEnd(width)}  ${'ops/s'.padStart(14)}  ${'ns/op'.padStart(10)}\n`);
  for (const r of rows) {
    const ops = Math.round(r.opsPerSec).toLocaleString('en-US');
    process.stdout.write(
      `${r.name.padEnd(width)}  ${ops.padStart(14)}  ${r.nsPerOp.toFixed(1).padStart(10)}\n`,
    );
  }
  process.stdout.write('\n');
}

/** `RATIO <name> <value>`: the project against a baseline measured in the same run; higher is better. */
export function ratio(name: string, value: number): void {
  process.stdout.write(`RATIO ${name} ${value.toFixed(3)}\n`);
}

/** `FIGURE <name> <value> <unit>`: an absolute figure (drifts on a shared machine). */
export function figure(name: string, value: number, unit: string): void {
  process.stdout.write(`FIGURE ${name} ${Math.round(value)} ${unit}\n`);
}

/** Heap used after a forced GC; run the benchmark with `--expose-gc` for a meaningful figure. */
export function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}
