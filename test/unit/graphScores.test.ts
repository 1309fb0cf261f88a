/**
 * What a graph model's classifier outputs hold, read from the ops that compute them: logits only
 * when every computed value on the way from a linear op is added to, scaled or reshaped linearly
 * (a bias, a temperature, an ensemble of logits); anything else is taken as probabilities. The
 * answers each topology gives under TF.js are checked in classifierScores; this is the reading.
 */
import { describe, expect, it } from 'vitest';
import { guessScores } from '../../lib/ops/taskGuess.js';
import type { Signature } from '../../lib/registry/manifest.js';

type Node = { name: string; op: string; input?: string[] };

const signature: Signature = { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }], outputs: [{ name: 'out', dtype: 'float32', shape: [-1, 3] }] };
const leaves: Node[] = [
  { name: 'x', op: 'Placeholder' },
  { name: 'w', op: 'Const' },
  { name: 'w2', op: 'Const' },
  { name: 'b', op: 'Const' },
  { name: 't', op: 'Const' },
];
/** The scores a graph whose output node is `out` is read to hold. */
const scoresOf = (...nodes: Node[]) => guessScores({ format: 'graph-model', modelTopology: { node: [...leaves, ...nodes] } }, signature, 'classification');

const dense = (name: string, weights = 'w'): Node => ({ name, op: 'MatMul', input: ['x', weights] });

describe('the scores of a graph classifier', () => {
  it.each<[string, string, Node[]]>([
    [
      'an EinsumDense head (Einsum, then its bias)',
      'logits',
      [
        { name: 'e', op: 'Einsum', input: ['x', 'w'] },
        { name: 'out', op: 'AddV2', input: ['e', 'b'] },
      ],
    ],
    ['logits over a temperature', 'logits', [dense('m'), { name: 'out', op: 'RealDiv', input: ['m', 't'] }]],
    ['logits times a constant', 'logits', [dense('m'), { name: 'out', op: 'Mul', input: ['t', 'm'] }]],
    ['negated logits', 'logits', [dense('m'), { name: 'out', op: 'Neg', input: ['m'] }]],
    ['a difference of two linear heads', 'logits', [dense('m'), dense('n', 'w2'), { name: 'out', op: 'Sub', input: ['m', 'n'] }]],
    ['an AddN of linear heads and a bias', 'logits', [dense('m'), dense('n', 'w2'), { name: 'out', op: 'AddN', input: ['m', 'n', 'b'] }]],
    [
      'a 3-D convolution, reshaped',
      'logits',
      [
        { name: 'c', op: 'Conv3D', input: ['x', 'w'] },
        { name: 'out', op: 'Reshape', input: ['c', 't'] },
      ],
    ],
    ['a product of two computed values', 'probabilities', [dense('m'), dense('n', 'w2'), { name: 'out', op: 'Mul', input: ['m', 'n'] }]],
    ['softmaxes summed', 'probabilities', [dense('m'), { name: 's', op: 'Softmax', input: ['m'] }, { name: 'out', op: 'AddV2', input: ['s', 's'] }]],
    ['a constant over logits (1 / logits is not linear)', 'probabilities', [dense('m'), { name: 'out', op: 'RealDiv', input: ['t', 'm'] }]],
    ['a softmax over a temperature', 'probabilities', [dense('m'), { name: 's', op: 'Softmax', input: ['m'] }, { name: 'out', op: 'RealDiv', input: ['s', 't'] }]],
    ['logits minus a softmax', 'probabilities', [dense('m'), { name: 's', op: 'Softmax', input: ['m'] }, { name: 'out', op: 'Sub', input: ['m', 's'] }]],
    ['a log-softmax, through an identity', 'log-probabilities', [dense('m'), { name: 'l', op: 'LogSoftmax', input: ['m'] }, { name: 'out', op: 'Identity', input: ['l'] }]],
  ])('%s: %s', (_, expected, nodes) => {
    expect(scoresOf(...nodes)).toBe(expected);
  });

  it('reads each node of a residual network a bounded number of times (each block branches into the next two)', () => {
    // Each block adds the two before it: read without memory, 20 blocks are a million reads.
    let reads = 0;
    const counted = (node: Node): Node => ({
      ...node,
      get op() {
        reads++;
        return node.op;
      },
    });
    const blocks: Node[] = [dense('r0'), dense('r1', 'w2')];
    for (let i = 2; i <= 20; i++) blocks.push(counted({ name: `r${i}`, op: 'AddV2', input: [`r${i - 1}`, `r${i - 2}`] }));
    blocks.push({ name: 'out', op: 'Identity', input: ['r20'] });
    expect(scoresOf(...blocks)).toBe('logits');
    expect(reads).toBeLessThan(10 * 19);
  });

  it('gives up past 50 steps from the output rather than follow a chain of any length', () => {
    const chain: Node[] = [dense('c0')];
    for (let i = 1; i <= 300; i++) chain.push({ name: `c${i}`, op: 'Identity', input: [`c${i - 1}`] });
    chain.push({ name: 'out', op: 'Identity', input: ['c300'] });
    expect(scoresOf(...chain)).toBe('probabilities');
    expect(scoresOf(...chain.slice(0, 41), { name: 'out', op: 'Identity', input: ['c40'] })).toBe('logits');
  });
});
