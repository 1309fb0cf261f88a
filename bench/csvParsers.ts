/**
 * Which CSV parser the tabular paths of evaluate and batch scoring use, chosen by measurement on
 * our own files: 100k rows of iris and of housing (bench/evaluateData.ts), each parsed to arrays
 * of cell strings (what the columnar path needs: no object per row), by every well-kept candidate.
 * Each must also read a file with quoted commas, quoted newlines and CRLF line ends correctly.
 *
 *   npx tsx bench/csvParsers.ts [--quick]
 */
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { parse as csvParse } from 'csv-parse';
import { parse as fastCsv } from '@fast-csv/parse';
import csvParser from 'csv-parser';
import Papa from 'papaparse';
import { inferSchema, initParser } from 'udsv';
import { sourceRows, type EvaluateModel } from './evaluateData.js';
import { uniform } from '../lib/random.js';
import { round } from './stats.js';

type Parse = (csv: string) => Promise<string[][]>;

/** Streamed in 64 KB chunks where the library streams, as the service reads from S3. */
function chunks(csv: string): Readable {
  const size = 64 * 1024;
  return Readable.from(
    (function* () {
      for (let i = 0; i < csv.length; i += size) yield csv.slice(i, i + size);
    })(),
  );
}

export const PARSERS: Record<string, Parse> = {
  'csv-parse 6.1.0': async (csv) => {
    const rows: string[][] = [];
    for await (const row of chunks(csv).pipe(csvParse({ skip_empty_lines: true }))) rows.push(row as string[]);
    return rows;
  },
  'udsv 0.7.3': async (csv) => {
    // Streaming: the schema from the first chunk, then every chunk through one parser.
    let parser: ReturnType<typeof initParser> | undefined;
    const rows: string[][] = [];
    for await (const chunk of chunks(csv)) {
      parser ??= initParser(inferSchema(chunk as string, { header: () => [] }));
      parser.chunk<string[]>(chunk as string, parser.stringArrs, (row) => {
        rows.push(row);
      });
    }
    parser?.end();
    return rows;
  },
  'papaparse 5.7.1': async (csv) => {
    const rows: string[][] = [];
    await new Promise<void>((resolve, reject) =>
      Papa.parse<string[]>(chunks(csv) as unknown as File, { skipEmptyLines: true, step: (r) => void rows.push(r.data), complete: () => resolve(), error: reject }),
    );
    return rows;
  },
  '@fast-csv/parse 5.0.8': async (csv) => {
    const rows: string[][] = [];
    const stream = chunks(csv).pipe(fastCsv({ ignoreEmpty: true }));
    stream.on('data', (row: string[]) => rows.push(row));
    await once(stream, 'end');
    return rows;
  },
  'csv-parser 3.2.1': async (csv) => {
    const rows: string[][] = [];
    const stream = chunks(csv).pipe(csvParser({ headers: false }));
    stream.on('data', (row: Record<string, string>) => rows.push(Object.values(row)));
    await once(stream, 'end');
    return rows;
  },
};

/** Quoting as spreadsheets write it: commas and newlines inside quotes, doubled quotes, CRLF. */
const TRICKY = 'a,b,c\r\n1,"x, y",2\r\n3,"two\r\nlines",4\r\n5,"say ""hi""",6\r\n';
const TRICKY_ROWS = [
  ['a', 'b', 'c'],
  ['1', 'x, y', '2'],
  ['3', 'two\r\nlines', '4'],
  ['5', 'say "hi"', '6'],
];

function file(model: EvaluateModel, rows: number): string {
  const source = sourceRows(model);
  const next = uniform(7);
  const lines = [source.columns.join(',')];
  for (let i = 0; i < rows; i++) lines.push(source.lines[Math.floor(next() * source.lines.length)]);
  return `${lines.join('\n')}\n`;
}

export interface ParserRow {
  parser: string;
  correct: boolean;
  rowsPerSecond: Record<string, number>;
}

export async function measureParsers(options: { quick?: boolean } = {}): Promise<ParserRow[]> {
  const rows = 100_000;
  const files = { iris: file('iris', rows), housing: file('housing', rows) };
  const runs = options.quick ? 3 : 7;
  const out: ParserRow[] = [];
  for (const [name, parse] of Object.entries(PARSERS)) {
    const got = await parse(TRICKY).catch(() => []);
    const correct = JSON.stringify(got) === JSON.stringify(TRICKY_ROWS);
    const rowsPerSecond: Record<string, number> = {};
    for (const [model, csv] of Object.entries(files)) {
      const times: number[] = [];
      for (let i = 0; i < runs + 1; i++) {
        const started = performance.now();
        const parsed = await parse(csv);
        const ms = performance.now() - started;
        if (parsed.length !== rows + 1) throw new Error(`${name} read ${parsed.length} rows of ${model}, expected ${rows + 1}`);
        if (i > 0) times.push(ms);
      }
      times.sort((a, b) => a - b);
      rowsPerSecond[model] = round(rows / (times[Math.floor(times.length / 2)] / 1000), 0);
    }
    out.push({ parser: name, correct, rowsPerSecond });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await measureParsers({ quick: process.argv.includes('--quick') })) {
    console.log(`${row.parser.padEnd(24)} correct=${row.correct}  iris ${row.rowsPerSecond.iris} rows/s  housing ${row.rowsPerSecond.housing} rows/s`);
  }
}
