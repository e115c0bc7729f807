/**
 * The one reader of the Prometheus text exposition format, for the tests (which use
 * it strictly: a line that is not a sample is an error) and for the benchmarks
 * (bench/host-metrics.ts skips such lines instead). No vitest here: bench/ compiles it.
 *
 * What it accepts is what prom-client writes: blank lines, `#` comments (HELP, TYPE),
 * and sample lines `name{label="value",...} value` with single spaces, label values
 * escaped with `\\`, `\"` and `\n`, and a value that is a decimal number, `+Inf`,
 * `-Inf` or NaN (prom-client writes `Nan`). No timestamps.
 */

/** One sample line. */
export interface Sample {
  /** The series exactly as written, name and label set: `chat_x{thread="main"}`. */
  readonly series: string;
  readonly name: string;
  /** Label values unescaped. */
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Series as written (`chat_x{thread="main"}`) -> value. */
export type SeriesValues = ReadonlyMap<string, number>;

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*';
const LABEL_VALUE = '"(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const LABEL = `${LABEL_NAME}=${LABEL_VALUE}`;
/** name, then the label set with its braces (an empty one and a trailing comma are allowed), then the value. */
const SAMPLE_LINE = new RegExp(`^(${NAME})(\\{(?:${LABEL}(?:,${LABEL})*,?)?\\})? (\\S+)$`);
const LABEL_PAIR = new RegExp(`(${LABEL_NAME})=(${LABEL_VALUE})`, 'g');
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A sample value as the format writes it; null if it is not one. */
function parseValue(text: string): number | null {
  if (DECIMAL.test(text)) return Number(text);
  const lower = text.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  if (lower === '+inf' || lower === 'inf') return Number.POSITIVE_INFINITY;
  if (lower === '-inf') return Number.NEGATIVE_INFINITY;
  return null;
}

function unescapeLabelValue(quoted: string): string {
  return quoted.slice(1, -1).replace(/\\([\\"n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** True for the lines that carry no sample: blank lines and comments. */
export function isCommentOrBlank(line: string): boolean {
  return line === '' || line.startsWith('#');
}

/** The sample on `line`; null if the line is not a well-formed sample line (comments and blank lines included). */
export function parseSampleLine(line: string): Sample | null {
  const match = SAMPLE_LINE.exec(line);
  if (!match) return null;
  const value = parseValue(match[3]!);
  if (value === null) return null;
  const labels: Record<string, string> = {};
  for (const [, key, quoted] of (match[2] ?? '').matchAll(LABEL_PAIR)) {
    // A label given twice is not a label set.
    if (Object.hasOwn(labels, key!)) return null;
    labels[key!] = unescapeLabelValue(quoted!);
  }
  return { series: match[1]! + (match[2] ?? ''), name: match[1]!, labels, value };
}

/** Every sample of `text`, in order (comments and blank lines skipped); throws on any other line that is not a sample. */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (isCommentOrBlank(line)) continue;
    const sample = parseSampleLine(line);
    if (sample === null) throw new Error(`line ${i + 1} is not a sample line: ${JSON.stringify(line)}`);
    samples.push(sample);
  }
  return samples;
}

/** Series as written -> value; throws if a series appears twice. */
export function seriesValues(samples: readonly Sample[]): SeriesValues {
  const values = new Map<string, number>();
  for (const s of samples) {
    if (values.has(s.series)) throw new Error(`series ${s.series} appears twice`);
    values.set(s.series, s.value);
  }
  return values;
}

/** parseSamples, then seriesValues: the strict reading of a whole scrape, keyed by series as written. */
export function parseSeriesValues(text: string): SeriesValues {
  return seriesValues(parseSamples(text));
}

/** The one sample of `name` whose labels are exactly `labels` (in any order); throws if absent or repeated. */
export function sampleValue(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort()));
  if (found.length !== 1) throw new Error(`expected one ${name}${JSON.stringify(labels)}, found ${found.length}`);
  return found[0]!.value;
}

/** Every sample of `name`, whatever its labels. */
export function samplesNamed(samples: readonly Sample[], name: string): Sample[] {
  return samples.filter((s) => s.name === name);
}
