/** modelctl: push, list, show, promote, roll back and prune model versions in any store; batch, evaluate, explain. */
import { Command, Option } from 'commander';
import { readConfig, type Config } from '../lib/config.js';
import { SCORE_KINDS, TASKS } from '../lib/registry/index.js';
import { createServices, type Services } from '../lib/services.js';
import type { ObjectStore } from '../lib/store/index.js';
import { promote, rollback, unalias } from './commands/aliases.js';
import { batch } from './commands/batch.js';
import { evaluate } from './commands/evaluate.js';
import { explain } from './commands/explain.js';
import { failure } from './errors.js';
import { list } from './commands/list.js';
import { prune } from './commands/prune.js';
import { push } from './commands/push.js';
import { show } from './commands/show.js';
import { checkStoreFolder } from './storeFolder.js';
import { number, pruneAge, storeUri, wholeNumber } from './optionParsers.js';

// The AWS SDK warns, in nine lines before the first S3 command's output, that its releases after
// January 2027 will need Node 22. modelctl pins its SDK version (package.json), so on Node 20 the
// warning says nothing the user must act on here; the SDK's own switch turns it off unless the
// user set it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// A reader that stops early (`modelctl show digits --full | head`) is no failure of modelctl: it
// ends quietly, as command-line tools do, rather than print an EPIPE stack trace and exit 1.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
});

const program = new Command('modelctl')
  .description('Manage TF.js model versions in a model store (default: MODEL_STORE_URI, else the repo models/ folder)')
  .option('--store <uri>', 'model store: s3://bucket/prefix, file://path or a folder path', storeUri)
  .option('--verbose', 'on an error, print its stack trace')
  // Usage errors exit 2 (cli/errors.ts): commander throws instead of exiting; set before the commands, which inherit it.
  .exitOverride()
  .showHelpAfterError('(add --help for usage)')
  // Its messages read as modelctl's others do: "modelctl: <what is wrong>".
  .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'modelctl: ')) });

/** The environment's configuration, with --store as the model store when given. */
function config(): Config {
  const read = readConfig();
  const uri = program.opts<{ store?: string }>().store;
  return uri ? { ...read, modelStoreUri: uri } : read;
}

/** The CLI's services, over that configuration. */
const services = (): Services => createServices(config());

const store = (): ObjectStore => services().store;

/** Where the model store came from, as the user set it: --store, MODEL_STORE_URI, else the default. */
function storeNamed(): string {
  if (program.opts<{ store?: string }>().store) return '--store';
  return process.env.MODEL_STORE_URI ? 'MODEL_STORE_URI' : "the default store (the repo's models/)";
}

// A store folder that is not there is a mistyped path, not an empty store: refused before any
// command reads it (push may make a new store folder; cli/storeFolder.ts).
program.hook('preAction', async (_, command) => {
  await checkStoreFolder(config().modelStoreUri, storeNamed(), command.name() === 'push');
});

program
  .command('push <model>')
  .description('create a new version from a TF.js model folder (model.json + weight shards), its .json file or a .zip of it, or a Keras file (.keras, or legacy .h5)')
  .requiredOption('-n, --name <name>', 'model name')
  .option('-a, --alias <alias>', 'point this alias at the new version')
  .option('--skip-unchanged', 'make no version when the highest one holds the same files and settings (a deploy that pushes on every run); --alias then points at that one')
  .addOption(new Option('-t, --task <task>', 'if omitted: from the labels given, else from the output activation (softmax, sigmoid: classes; linear: regression)').choices(TASKS))
  .addOption(
    new Option(
      '--scores <kind>',
      "a classifier's outputs: probabilities | log-probabilities | logits; answers and metrics read them as probabilities (guessed from the output activation if omitted)",
    ).choices(SCORE_KINDS),
  )
  .option('-l, --labels <labels>', 'comma-separated class labels')
  .option('--output <name>', 'of a model with several outputs, the one that answers, labels, task and scores read (default: its first); the others stay in raw answers')
  .option('-m, --meta <file>', 'JSON with more manifest fields: transforms, background, metrics, description, scores')
  .option(
    '--image <WxHxC>',
    'image inputs of this size, e.g. 224x224x3 (1 or 3 channels); anyx3 (or anyx1): each image at its own size, for a model whose input leaves height and width open',
  )
  .option('--resize <method>', 'image: bilinear | nearest | area (default bilinear)')
  .option('--align-corners', 'image: as tf.image.resizeBilinear alignCorners')
  .option('--half-pixel-centers', 'image: as tf.image.resizeBilinear halfPixelCenters')
  .option('--fit <fit>', 'image: stretch | cover | contain | mnist (default stretch)')
  .option('--crop <top,left,bottom,right>', 'image: resize this box (fractions of height and width) as tf.image.cropAndResize does (fit stretch)')
  .option('--fill <0..255>', 'image, contain: the padding value (default 0)')
  .option('--scale <x>', 'image: pixel * scale + offset (default 1/255)')
  .option('--offset <x>', 'image: pixel * scale + offset (default 0)')
  .option('--mean <m[,m...]>', 'image: subtracted per channel; tabular: the features are standardised with these means')
  .option('--std <s[,s...]>', 'image: divided per channel; tabular: the features are standardised with these stds')
  .option('--channel-order <order>', 'image: rgb | bgr (default rgb)')
  .option('--layout <layout>', 'image: hwc | chw, channels last or first (default hwc; chw for a model converted from PyTorch)')
  .option('--grey-weights <r,g,b>', 'image, 1 channel: grey = r*R + g*G + b*B (default luminance 0.299,0.587,0.114)')
  .option('--alpha <alpha>', "image: drop | white: a PNG's transparency ignored (its stored colour, as decode_png reads it) or composited over white (default drop)")
  .option('--invert <when>', 'image: never | always | auto (default never)')
  .option('--no-exif-orientation', 'image: do not turn JPEGs upright by their EXIF orientation')
  .option('--features <names>', 'tabular inputs: comma-separated feature names, in the model input order')
  .option('--vocabulary <file>', 'text inputs: a bag of words over this vocabulary (one word a line)')
  .option('--no-lowercase', 'text: keep case when matching the vocabulary')
  .option('--token-pattern <regex>', "text: what a token is (default [a-z0-9']+)")
  .option('--count', 'text: count occurrences instead of marking presence')
  .action(async (model: string, options) => console.log(await push(store(), model, options)));

program
  .command('batch <file>')
  .description('score a CSV or JSON Lines file (a path or s3://bucket/key) with N worker processes, as the sharded batch run does in AWS')
  .requiredOption('--model <ref>', 'model, model@alias or model:version')
  .requiredOption('-o, --out <dir|s3-uri>', 'where <name>.predictions.*, <name>.errors.jsonl and <name>.manifest.json go')
  .option('-w, --workers <n>', 'worker processes (default: one per core)')
  .option('--range-bytes <n>', 'bytes per range (default 16 MiB)')
  .option(
    '--range-timeout <seconds>',
    "a worker still on one range after this long is killed and the range redone; a range is tried 3 times (default 900, the range function's timeout in AWS)",
  )
  .action(async (file: string, options) => {
    const manifest = await batch(services(), file, options);
    console.log(JSON.stringify(manifest, null, 2));
    if (manifest.status !== 'succeeded') process.exitCode = 1;
  });

program
  .command('list [model]')
  .description('models, versions, aliases and held-out metrics')
  .option('--json', 'print JSON')
  .action(async (model: string | undefined, options: { json?: boolean }) => console.log(await list(store(), model, options.json === true)));

program
  .command('show <ref>')
  .description('manifest of name, name:version or name@alias')
  .option('--full', 'include the background sample and the whole vocabulary')
  .action(async (ref: string, options: { full?: boolean }) => console.log(await show(store(), ref, options.full === true)));

program
  .command('promote <model> <version>')
  .description('point an alias at a version')
  .requiredOption('-a, --alias <alias>', 'alias to move, e.g. production')
  .action(async (model: string, version: string, options: { alias: string }) => console.log(await promote(store(), model, version, options.alias)));

program
  .command('rollback <model>')
  .description('move an alias back to the version it pointed to before')
  .requiredOption('-a, --alias <alias>', 'alias to roll back')
  .option('--from <version>', 'only while the alias points at this version (run again after a lost answer, it changes nothing)')
  .action(async (model: string, options: { alias: string; from?: string }) => console.log(await rollback(store(), model, options.alias, options.from)));

program
  .command('unalias <model>')
  .description('remove an alias (requests naming it then get 404; without production, a model serves its highest version)')
  .requiredOption('-a, --alias <alias>', 'alias to remove')
  .option('--from <version>', 'only while the alias points at this version (required for production)')
  .action(async (model: string, options: { alias: string; from?: string }) => console.log(await unalias(store(), model, options.alias, options.from)));

program
  .command('prune [model]')
  .description('remove the files of versions staged and never committed (a push cut off midway, a fine-tune attempt that lost its claim)')
  .addOption(new Option('--older-than <age>', 'only those whose last file is older than this (at least 15m), e.g. 90m, 24h, 7d').argParser(pruneAge).default(86_400_000, '24h'))
  .option('--dry-run', 'list what would be removed, remove nothing')
  .option('--json', 'print JSON')
  .action(async (model: string | undefined, options: { olderThan: number; dryRun?: boolean; json?: boolean }) =>
    console.log(await prune(store(), model, { olderThan: options.olderThan, dryRun: options.dryRun === true, json: options.json === true })),
  );

program
  .command('evaluate <ref>')
  .description('metrics of name, name:version or name@alias on a labelled CSV or JSON Lines file')
  .requiredOption('-d, --data <file>', 'a local file (a path or file:///abs/path), or s3://bucket/key')
  .option('-c, --label-column <name>', 'the column holding the truth', 'label')
  .option('-k, --top-k <k>', 'multiclass: also report top-k accuracy', wholeNumber)
  .option('--threshold <p>', 'binary: decision threshold (default 0.5)', number)
  .option('--save', 'keep the result under the version (shown by show and metadata)')
  .option('--html <file>', 'write the HTML report (metrics, confusion matrix, ROC) to this file')
  .option('--json', 'print the whole evaluation as JSON')
  .action(async (ref: string, options) => console.log(await evaluate(services(), ref, options)));

const collect = (value: string, previous: string[] = []) => [...previous, value];
program
  .command('explain <ref>')
  .description('why name, name:version or name@alias answered as it did: attributions per feature, word or pixel')
  .option('-i, --instance <json|text>', 'an instance: a JSON feature record or row, or text (repeatable)', collect)
  .option('--image <file>', 'a PNG or JPEG image instance (repeatable)', collect)
  .option('-m, --method <method>', 'integratedGradients | saliency | smoothGrad | kernelShap', 'integratedGradients')
  .option('-t, --target <label|index>', 'the class to explain (default: the predicted one)')
  .option('--steps <n>', 'integratedGradients: path points (default 50)', wholeNumber)
  .option('--baseline <zeros|mean|json>', 'integratedGradients: the reference input')
  .option('--integration <rule>', 'integratedGradients: gaussLegendre | trapezoid (default gaussLegendre)')
  .option('--n-samples <n>', 'kernelShap: coalitions when more than 10 features vary from the background (default 2048)', wholeNumber)
  .option('--background <json>', "kernelShap: a JSON array of reference instances (default: the manifest's stored sample)")
  .option('--patch-size <n>', 'kernelShap on images: side of the square patches (default: 7 patches across)', wholeNumber)
  .option('--samples <n>', 'smoothGrad: noisy copies (default 50)', wholeNumber)
  .option('--noise-level <x>', 'smoothGrad: noise std as a fraction of the value range (default 0.15)', number)
  .option('--seed <n>', 'smoothGrad and sampled kernelShap: random seed (default 0: reproducible)', wholeNumber)
  .option('--png <file>', 'image models: write the heatmap overlay PNG here')
  .option('-k, --top <k>', 'attributions to print per instance', wholeNumber, 10)
  .option('--json', 'print the whole answer as JSON')
  .action(async (ref: string, options) => console.log(await explain(services(), ref, options)));

// No top-level await: bin/modelctl.js runs this file as a CommonJS bundle (cli/cliBundle.ts).
program.parseAsync().catch((error: unknown) => {
  const { message, exitCode } = failure(error, program.opts<{ verbose?: boolean }>().verbose === true);
  if (message) console.error(`modelctl: ${message}`);
  process.exitCode = exitCode;
});
