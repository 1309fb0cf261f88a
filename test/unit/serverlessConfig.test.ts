/**
 * The deployed wiring, read from the real configuration as the framework resolves it
 * (`serverless print --format json`: variables and params filled in), checked against the code:
 * batch triggers cannot fire on batch outputs, the local emulation (scripts/start.ts) filters
 * exactly as the S3 rules do, and each function ships only its own bundle.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { S3EventRecord } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { routeList } from '../../lib/api/routes/index.js';
import { CONFIG_VARIABLES } from '../../lib/config.js';
import { INPUT_PREFIX, INPUT_SUFFIXES, newRunId, OUTPUT_PREFIX, outputsFor, parseInputKey, runFiles, shardOutputsFor } from '../../lib/batch/paths.js';
import { BATCH_FUNCTION, IMPORT_FUNCTION, isBatchUpload, isImportUpload } from '../../scripts/local/uploadEvents.js';
import { FUNCTION_PROCESS_ENV } from '../../lib/runtime/processEnv.js';
import { DEFAULT_RANGE_TIMEOUT_MS } from '../../lib/batch/shard/local.js';
import { IMPORT_PREFIX, IMPORT_SUFFIXES, parseImportKey } from '../../lib/imports/paths.js';
import { keys } from '../../lib/registry/keys.js';

/** The framework's own names for the CloudFormation resources it generates. */
const naming = createRequire(import.meta.url)('osls/lib/plugins/aws/lib/naming') as { getHttpApiRouteLogicalId: (routeKey: string) => string };

interface S3Rule {
  prefix?: string;
  suffix?: string;
}
interface S3Trigger {
  bucket: string;
  event: string;
  existing?: boolean;
  rules?: S3Rule[];
}
type Authorizer = string | { type?: string; name?: string };
type HttpApiEvent = string | { method: string; path: string; authorizer?: Authorizer };
interface FunctionConfig {
  handler: string;
  /** A role of resources.Resources; none: the provider's role. */
  role?: string;
  timeout?: number;
  memorySize?: number;
  package?: { patterns?: string[] };
  events?: Array<{ s3?: S3Trigger; httpApi?: HttpApiEvent } & Record<string, unknown>>;
}
/** An IAM statement as printed: a resource is an ARN, or an intrinsic ({"Fn::Sub": ...}, {"Fn::GetAtt": [...]}). */
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}
interface PolicyDocument {
  PolicyDocument: { Statement: Statement[] };
}
interface Printed {
  service: string;
  provider: {
    stage: string;
    memorySize?: number;
    environment?: Record<string, string>;
    httpApi?: { authorizers?: Record<string, { type: string; issuerUrl?: string }> };
    iam: { role: { statements: Statement[] } };
  };
  resources: {
    Parameters?: Record<string, { Default?: string; AllowedPattern?: string }>;
    Conditions?: Record<string, unknown>;
    Resources: Record<
      string,
      {
        Type?: string;
        Condition?: string;
        Properties?: { ManagedPolicyArns?: unknown[]; Policies?: PolicyDocument[]; Roles?: { Ref: string }[]; PolicyDocument?: PolicyDocument['PolicyDocument'] };
      }
    >;
    extensions?: { HttpApiStage?: { DependsOn?: string | string[]; Properties: { DefaultRouteSettings: Throttle; RouteSettings: Record<string, Throttle> } } };
  };
  package?: { individually?: boolean };
  functions: Record<string, FunctionConfig & { environment?: Record<string, string> }>;
}

interface Throttle {
  ThrottlingRateLimit: number | string;
  ThrottlingBurstLimit: number | string;
}

/** serverless.yml as `serverless print` resolves it, with these --param values (and `env` in the shell). */
async function printed(...params: string[]): Promise<Printed> {
  return printedWith({}, ...params);
}

async function printedWith(env: Record<string, string>, ...params: string[]): Promise<Printed> {
  const { stdout } = await promisify(execFile)(path.resolve('node_modules/.bin/serverless'), ['print', '--format', 'json', ...params.map((p) => `--param=${p}`)], {
    cwd: path.resolve('.'),
    env: { ...process.env, ...env },
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as Printed;
}

/** Every httpApi route deployed: "METHOD path", its function, and its authorizer as printed. */
function deployedRoutes(printedConfig: Printed): { key: string; fn: string; authorizer?: Authorizer }[] {
  return Object.entries(printedConfig.functions).flatMap(([fn, f]) =>
    (f.events ?? [])
      .filter((e) => e.httpApi !== undefined)
      .map((e) => {
        const event = e.httpApi!;
        return typeof event === 'string' ? { key: event, fn, authorizer: undefined } : { key: `${event.method} ${event.path}`, fn, authorizer: event.authorizer };
      }),
  );
}

/** A statement's resource as text: an ARN, a Fn::Sub's template, or a GetAtt's "Logical.Attribute". */
const resourceText = (resource: unknown): string => {
  if (typeof resource === 'string') return resource;
  const r = resource as { 'Fn::Sub'?: string; 'Fn::GetAtt'?: string[] };
  return r['Fn::Sub'] ?? r['Fn::GetAtt']?.join('.') ?? JSON.stringify(resource);
};

/** osls' logical id of the provider's role, which functions without a role of their own get. */
const PROVIDER_ROLE = 'IamRoleLambdaExecution';

/** A value as CloudFormation reads it when deployed with the defaults: a Ref to a stack parameter is its Default (what osls resolved). */
function deployedValue(printedConfig: Printed, value: unknown): unknown {
  const ref = (value as { Ref?: string } | null)?.Ref;
  const parameter = ref === undefined ? undefined : printedConfig.resources.Parameters?.[ref];
  return parameter ? parameter.Default : value;
}

/**
 * A condition of the template as CloudFormation decides it. Ours compare a stack parameter with
 * a literal, so Fn::Not and Fn::Equals on strings are all there is to evaluate.
 */
function holds(printedConfig: Printed, name: string): boolean {
  const evaluate = (expression: unknown): boolean => {
    const e = expression as { 'Fn::Not'?: [unknown]; 'Fn::Equals'?: [unknown, unknown] };
    if (e['Fn::Not']) return !evaluate(e['Fn::Not'][0]);
    const equals = e['Fn::Equals']?.map((v) => deployedValue(printedConfig, v));
    if (equals?.every((v) => typeof v === 'string')) return equals[0] === equals[1];
    throw new Error(`condition not evaluated here: ${JSON.stringify(expression)}`);
  };
  return evaluate(printedConfig.resources.Conditions?.[name]);
}

/** Every statement a role is granted: its inline policies (the provider's statements) and the policies attached to it, if their condition holds. */
function roleStatements(printedConfig: Printed, role: string): Statement[] {
  const resources = printedConfig.resources.Resources;
  const inline = role === PROVIDER_ROLE ? printedConfig.provider.iam.role.statements : (resources[role].Properties?.Policies ?? []).flatMap((p) => p.PolicyDocument.Statement);
  const attached = Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Condition === undefined || holds(printedConfig, r.Condition)))
    .filter((r) => r.Properties?.Roles?.some((ref) => ref.Ref === role))
    .flatMap((r) => r.Properties?.PolicyDocument?.Statement ?? []);
  return [...inline, ...attached];
}

/** Every role of the stack: the provider's (osls makes it when packaging) and those under resources. */
const allRoles = (printedConfig: Printed): string[] => [
  PROVIDER_ROLE,
  ...Object.entries(printedConfig.resources.Resources)
    .filter(([, r]) => r.Type === 'AWS::IAM::Role')
    .map(([id]) => id),
];

/** The resources a function's role (its own, or the provider's) allows `action` on. */
function allowed(printedConfig: Printed, fn: string, action: string): string[] {
  return roleStatements(printedConfig, printedConfig.functions[fn].role ?? PROVIDER_ROLE)
    .filter((s) => s.Effect === 'Allow' && [s.Action].flat().includes(action))
    .flatMap((s) => [s.Resource].flat().map(resourceText))
    .sort();
}

/** The route table's routes as API Gateway sees them, with their access: a GET path is served HEAD too (API Gateway matches methods exactly). */
const tableRoutes = () =>
  routeList().flatMap((route) =>
    (route.gateway ? [route.gateway] : route.paths).flatMap((p) =>
      (route.method === 'GET' ? ['GET', 'HEAD'] : [route.method]).map((method) => ({ key: `${method} ${p}`, fn: route.fn, auth: route.auth })),
    ),
  );

let config: Printed;
beforeAll(async () => {
  config = await printed();
}, 60_000);

const s3Triggers = () => Object.entries(config.functions).flatMap(([name, fn]) => (fn.events ?? []).filter((e) => e.s3).map((e) => ({ name, s3: e.s3! })));
const ruleOf = (trigger: S3Trigger) => ({
  prefix: trigger.rules?.find((r) => r.prefix !== undefined)?.prefix ?? '',
  suffix: trigger.rules?.find((r) => r.suffix !== undefined)?.suffix ?? '',
});
/** S3's notification filter: the key starts with the prefix and ends with the suffix. */
const matches = (trigger: S3Trigger, key: string) => {
  const { prefix, suffix } = ruleOf(trigger);
  return key.startsWith(prefix) && key.endsWith(suffix);
};
const created = (key: string) => ({ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key } } }) as unknown as S3EventRecord;

describe('serverless.yml as the framework resolves it', () => {
  it.each([
    ['batchScore', INPUT_PREFIX, INPUT_SUFFIXES],
    ['modelImport', IMPORT_PREFIX, IMPORT_SUFFIXES],
  ] as const)('triggers %s on objects created under %s with one of its suffixes, one rule per suffix', (fn, prefixOf, suffixes) => {
    expect(new Set(s3Triggers().map((t) => t.name))).toEqual(new Set(['batchScore', 'modelImport']));
    const triggers = s3Triggers().filter((t) => t.name === fn);
    for (const { s3 } of triggers) {
      expect(s3.event).toBe('s3:ObjectCreated:*');
      expect(s3.rules).toHaveLength(2);
      const { prefix, suffix } = ruleOf(s3);
      expect(prefix).toBe(prefixOf);
      expect(suffixes).toContain(suffix);
    }
    expect(triggers.map((t) => ruleOf(t.s3).suffix).sort()).toEqual([...suffixes].sort());
  });

  it('never triggers on what a model import writes (its outcome, its manifest fields, its claim, the new version)', () => {
    const target = parseImportKey(`${IMPORT_PREFIX}cancer/2026/model.keras`);
    expect(target).toBeDefined();
    const claim = keys.importClaim('cancer', 'ab'.repeat(32));
    const written = [target?.outcome, target?.meta, claim, 'cancer/versions/3/model.json', 'cancer/versions/3/group1-shard1of1.bin', 'cancer/versions/3/manifest.json'];
    for (const key of written) expect([key, s3Triggers().filter((t) => matches(t.s3, key as string))]).toEqual([key, []]);
  });

  it('never triggers on what batch scoring writes (no S3 -> Lambda recursion)', () => {
    for (const { s3 } of s3Triggers()) {
      const { prefix } = ruleOf(s3);
      // Neither prefix may contain the other, whatever the file names.
      expect(prefix).not.toBe('');
      expect(OUTPUT_PREFIX.startsWith(prefix)).toBe(false);
      expect(prefix.startsWith(OUTPUT_PREFIX)).toBe(false);
    }
    // And concretely: every object a run writes, for inputs of each suffix (outputs reuse the input name, so they end in .csv too).
    for (const suffix of INPUT_SUFFIXES) {
      const outputs = outputsFor(parseInputKey(`${INPUT_PREFIX}iris@production/2026/part-1${suffix}`));
      const run = runFiles(outputs, newRunId());
      const shard = shardOutputsFor(outputs, '"9b2cf535f27731c974343645a3985328-3"');
      const written = [
        outputs.predictions,
        outputs.errors,
        outputs.manifest,
        shard.part(0, 'predictions'),
        shard.part(3, 'errors'),
        shard.plan,
        shard.ranges,
        shard.rangeResult(3),
        outputs.publication('"9b2cf535f27731c974343645a3985328"'),
        run.checkpoint,
        run.part(0, 'predictions'),
        run.part(3, 'errors'),
      ];
      for (const key of written) {
        expect(key.startsWith(OUTPUT_PREFIX)).toBe(true);
        expect(s3Triggers().filter((t) => matches(t.s3, key))).toEqual([]);
      }
    }
  });

  it('is emulated exactly by npm start: same filter, same function name', () => {
    const keys = [
      'batch/input/iris/rows.csv',
      'batch/input/spam@production/mail.jsonl',
      'batch/input/digits:1/a b.ndjson',
      'batch/input/iris/notes.txt',
      'batch/input/iris/rows.CSV',
      'batch/output/iris/rows.csv.predictions.csv',
      'batch/inputs/iris/rows.csv',
      'models/iris/rows.csv',
    ];
    keys.push(
      'imports/cancer/model.keras',
      'imports/cancer/old.h5',
      'imports/cancer/tfjs.zip',
      'imports/cancer/model.keras.outcome.json',
      'imports/model.keras',
      'import/cancer/model.keras',
    );
    const routed = (fn: string) => (key: string) => s3Triggers().some((t) => t.name === fn && matches(t.s3, key));
    for (const key of keys) {
      expect([key, isBatchUpload(created(key))]).toEqual([key, routed('batchScore')(key)]);
      expect([key, isImportUpload(created(key))]).toEqual([key, routed('modelImport')(key)]);
    }
    expect(isBatchUpload({ ...created('batch/input/iris/rows.csv'), eventName: 'ObjectRemoved:Delete' })).toBe(false);
    expect(BATCH_FUNCTION).toBe(`${config.service}-${config.provider.stage}-batchScore`);
    expect(IMPORT_FUNCTION).toBe(`${config.service}-${config.provider.stage}-modelImport`);
  });

  it('routes exactly the route table, each path to its function; writes behind IAM, reads open by default', () => {
    const authOf = (authorizer: unknown) => ((authorizer as { type?: string } | undefined)?.type === 'aws_iam' ? 'write' : authorizer ? 'other' : 'read');
    const deployed = deployedRoutes(config).map((r) => `${r.key} ${r.fn} ${authOf(r.authorizer)}`);
    const table = tableRoutes().map((r) => `${r.key} ${r.fn} ${r.auth}`);
    expect([...new Set(deployed)].sort()).toEqual([...new Set(table)].sort());
    expect(deployed).toHaveLength(new Set(deployed).size);
  });

  it('puts every route that writes or starts a job behind IAM, whatever readAuth says', async () => {
    const writes = new Set(
      tableRoutes()
        .filter((r) => r.auth === 'write')
        .map((r) => r.key),
    );
    // The routes that change the store or start work: fine-tune, aliases, saved and async evaluations.
    for (const key of [
      'POST /v2/models/{model}/fine-tune',
      'PUT /v2/models/{model}/aliases/{alias}',
      'POST /v2/models/{model}/aliases/{alias}/rollback',
      'POST /v2/models/{model}/evaluations',
    ]) {
      expect(writes.has(key), key).toBe(true);
    }
    for (const readAuth of ['none', 'iam', 'jwt']) {
      const resolved = readAuth === 'none' ? config : await printed(`readAuth=${readAuth}`);
      for (const route of deployedRoutes(resolved).filter((r) => writes.has(r.key))) expect(route.authorizer, `${readAuth}: ${route.key}`).toEqual({ type: 'aws_iam' });
    }
  }, 60_000);

  it.each([
    ['iam', { type: 'aws_iam' }],
    ['jwt', { name: 'readJwt' }],
  ])(
    'readAuth=%s puts every read route behind that authorizer',
    async (readAuth, expected) => {
      const resolved = await printed(`readAuth=${readAuth}`, 'jwtIssuer=https://login.example.com/');
      const reads = new Set(
        tableRoutes()
          .filter((r) => r.auth === 'read')
          .map((r) => r.key),
      );
      const routes = deployedRoutes(resolved).filter((r) => reads.has(r.key));
      expect(routes.length).toBe(reads.size);
      for (const route of routes) expect(route.authorizer, route.key).toEqual(expected);
      const authorizers = resolved.provider.httpApi?.authorizers ?? {};
      if (readAuth === 'jwt') expect(authorizers.readJwt).toMatchObject({ type: 'jwt', issuerUrl: 'https://login.example.com/' });
      else expect(authorizers).toEqual({});
    },
    60_000,
  );

  it('throttles the stage, and the costly routes tighter, with rate and burst limits that are real routes', () => {
    const stage = config.resources.extensions?.HttpApiStage?.Properties;
    expect(stage).toBeDefined();
    const rate = (t: Throttle) => Number(t.ThrottlingRateLimit);
    const burst = (t: Throttle) => Number(t.ThrottlingBurstLimit);
    const base = stage!.DefaultRouteSettings;
    expect(rate(base)).toBeGreaterThan(0);
    expect(burst(base)).toBeGreaterThanOrEqual(rate(base));
    const routeKeys = new Set(deployedRoutes(config).map((r) => r.key));
    const heavy = Object.entries(stage!.RouteSettings);
    expect(heavy.map(([key]) => key)).toEqual(expect.arrayContaining(['POST /v2/models/{model}/explain', 'POST /v2/models/{model}/fine-tune', 'POST /v2/models/{model}/evaluate']));
    for (const [key, throttle] of heavy) {
      expect(routeKeys.has(key), key).toBe(true);
      expect(rate(throttle)).toBeGreaterThan(0);
      expect(rate(throttle)).toBeLessThan(rate(base));
    }
  });

  it('creates the stage after every route its RouteSettings name (CloudFormation fails a stage naming a route not yet created)', () => {
    const stage = config.resources.extensions?.HttpApiStage;
    const dependsOn = new Set([stage?.DependsOn ?? []].flat());
    const keys = Object.keys(stage?.Properties.RouteSettings ?? {});
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect([key, dependsOn.has(naming.getHttpApiRouteLogicalId(key))]).toEqual([key, true]);
  });

  it('sets node and malloc for every function as modelctl batch sets them for its workers (lib/runtime/processEnv.ts)', () => {
    expect(Object.keys(FUNCTION_PROCESS_ENV).length).toBeGreaterThan(0);
    for (const [name, value] of Object.entries(FUNCTION_PROCESS_ENV)) {
      expect(config.provider.environment?.[name]).toBe(value);
      for (const fn of Object.values(config.functions)) expect(fn.environment?.[name] ?? value).toBe(value);
    }
  });

  it("sizes the HTTP functions by memorySize and the rest by workerMemorySize (--param, or FUNCTION_MEMORY_MB and WORKER_MEMORY_MB), 2048 MB each by default, as numbers; the job worker's size reaches the functions that check fine-tunes against it", async () => {
    // serverless offline and invoke local set AWS_LAMBDA_FUNCTION_MEMORY_SIZE from it, over the shell's:
    // a smaller function is tried locally only this way.
    const WORKERS = ['jobWorker', 'batchScore', 'modelImport', 'batchRange'];
    const sizes = (printed: Printed) => Object.fromEntries(Object.entries(printed.functions).map(([name, fn]) => [name, fn.memorySize ?? printed.provider.memorySize]));
    const expected = (http: number, worker: number) => Object.fromEntries(Object.keys(config.functions).map((name) => [name, WORKERS.includes(name) ? worker : http]));
    expect(sizes(config)).toEqual(expected(2048, 2048));
    const small = await printed('memorySize=1024', 'workerMemorySize=3008');
    expect(sizes(small)).toEqual(expected(1024, 3008));
    expect(Object.values(small.functions).map((fn) => fn.environment?.JOB_WORKER_MEMORY_SIZE ?? small.provider.environment?.JOB_WORKER_MEMORY_SIZE)).toContain('3008');
    expect(sizes(await printedWith({ FUNCTION_MEMORY_MB: '512', WORKER_MEMORY_MB: '4096' }))).toEqual(expected(512, 4096));
  });

  it("gives modelctl batch's workers the range function's timeout (lib/batch/shard/local.ts)", () => {
    expect(config.functions.batchRange.timeout).toBe(DEFAULT_RANGE_TIMEOUT_MS / 1000);
  });

  it('packages each function individually with only its own dist folder', () => {
    expect(config.package?.individually).toBe(true);
    const names = Object.keys(config.functions);
    expect(names.length).toBeGreaterThan(0);
    for (const [name, fn] of Object.entries(config.functions)) {
      expect(fn.handler).toBe(`dist/${name}/index.handler`);
      const patterns = fn.package?.patterns ?? [];
      expect(patterns[0]).toBe('!**');
      const included = patterns.filter((p) => !p.startsWith('!'));
      expect(included).toEqual([`dist/${name}/**`]);
      // Exclusions may only narrow the function's own folder.
      for (const excluded of patterns.slice(1).filter((p) => p.startsWith('!'))) expect(excluded.startsWith(`!dist/${name}/`)).toBe(true);
    }
  });

  it("passes every variable lib/config.ts reads (and Powertools') from the shell to the functions, as README's configuration table says", async () => {
    // Set by Lambda or serverless offline themselves, or a test's hook (a local Step Functions).
    const notPassed = /^(AWS_|IS_OFFLINE$|BATCH_STATE_MACHINE_ARN$|STEP_FUNCTIONS_ENDPOINT$)/;
    // Named by serverless.yml itself, not the shell: the worker, its memory, timeout and event age, the state machine.
    const named = ['JOB_WORKER_FUNCTION', 'JOB_WORKER_MEMORY_SIZE', 'JOB_WORKER_TIMEOUT_SECONDS', 'JOB_WORKER_MAX_EVENT_AGE_SECONDS', 'BATCH_STATE_MACHINE_NAME'];
    const variables = [...CONFIG_VARIABLES, 'POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_METRICS_DISABLED'].filter((v) => !notPassed.test(v));
    const shell = Object.fromEntries(variables.filter((v) => !named.includes(v)).map((v) => [v, `set-${v}`]));
    const resolved = await printedWith(shell);
    const declared = (v: string) => [resolved.provider.environment?.[v], ...Object.values(resolved.functions).map((f) => f.environment?.[v])].filter((x) => x !== undefined);
    for (const v of variables) {
      expect([v, declared(v).length > 0]).toEqual([v, true]);
      if (!named.includes(v)) expect([v, declared(v).every((x) => x === `set-${v}`)]).toEqual([v, true]);
    }
  }, 60_000);

  it('gives each function only the grants its code uses (least privilege: one role per need, not one for every writer)', () => {
    const prefix = `${config.service}-${config.provider.stage}`;
    // modelBucket: MODEL_BUCKET from the shell, or its placeholder.
    const bucket = `arn:\${AWS::Partition}:s3:::${process.env.MODEL_BUCKET || 'tfjs-serving-models-placeholder'}`;
    const fn = (name: string) => `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:${prefix}-${name}`;
    const writers = ['evaluations', 'fineTune', 'jobWorker', 'modelImport', 'batchScore', 'batchPlan', 'batchRange', 'batchJoin'];
    const batch = ['batchScore', 'batchPlan', 'batchRange', 'batchJoin'];
    const only = (names: string[], resources: string[]) => Object.fromEntries(names.map((n) => [n, resources]));
    const expected: Record<string, Record<string, string[]>> = {
      // Read-only functions (predict, explain, evaluate, metadata) read and list; the writers write too.
      's3:GetObject': only(Object.keys(config.functions), [`${bucket}/*`]),
      's3:ListBucket': only(Object.keys(config.functions), [bucket]),
      // Batch scoring writes only under batch/output/ (every key a run writes: the trigger test above).
      's3:PutObject': { ...only(writers, [`${bucket}/*`]), ...only(batch, [`${bucket}/${OUTPUT_PREFIX}*`]) },
      's3:AbortMultipartUpload': { ...only(writers, [`${bucket}/*`]), ...only(batch, [`${bucket}/${OUTPUT_PREFIX}*`]) },
      // Batch scoring deletes its claims, plans and checkpoints; fineTune removes aliases (DELETE .../aliases/{alias}). Nothing under a model's versions.
      's3:DeleteObject': { ...only(batch, [`${bucket}/${OUTPUT_PREFIX}*`]), fineTune: [`${bucket}/*/aliases/*.json`] },
      // Submitting a job starts the worker (lib/jobs/submit.ts); batch scoring re-invokes itself to go on (lib/batch/handlerCore.ts).
      'lambda:InvokeFunction': { evaluations: [fn('jobWorker')], fineTune: [fn('jobWorker')], batchScore: [fn('batchScore')] },
      // The trigger hands large files to the state machine (lib/batch/shard/startRun.ts).
      'states:StartExecution': { batchScore: [`arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:stateMachine:${prefix}-batch`] },
      // The worker's failed events go to its dead-letter queue (an on-failure destination: the function's role sends).
      'sqs:SendMessage': { jobWorker: ['JobDeadLetterQueue.Arn'] },
    };
    for (const [action, byFunction] of Object.entries(expected)) {
      for (const name of Object.keys(config.functions)) {
        expect([name, action, allowed(config, name, action)]).toEqual([name, action, (byFunction[name] ?? []).sort()]);
      }
    }
    // An alias's pattern would also match a version's file named aliases/*.json: versions are denied to it.
    // And only conditional deletes (If-Match), as deleteAlias makes them: none that removes whatever is there.
    const deletes = roleStatements(config, config.functions.fineTune.role!).filter((s) => s.Effect === 'Allow' && [s.Action].flat().includes('s3:DeleteObject'));
    expect(deletes.map((s) => s.Condition)).toEqual([{ Null: { 's3:if-match': 'false' } }]);
    const denied = roleStatements(config, config.functions.fineTune.role!).filter((s) => s.Effect === 'Deny');
    expect(denied.map((s) => [[s.Action].flat(), [s.Resource].flat().map(resourceText)])).toEqual([[['s3:DeleteObject'], [`${bucket}/*/versions/*`]]]);
  });

  it("grants the writers' roles nothing on every resource: no managed policies, logs only to the stage's own log groups", () => {
    const roles = [...new Set(Object.values(config.functions).flatMap((f) => (f.role ? [f.role] : [])))];
    expect(roles.length).toBeGreaterThan(1);
    const logGroups = `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${config.service}-${config.provider.stage}-*`;
    for (const role of roles) {
      const properties = config.resources.Resources[role].Properties;
      // A managed policy's statements are not in the template (AWSLambdaBasicExecutionRole's are on "*").
      expect([role, properties?.ManagedPolicyArns]).toEqual([role, undefined]);
      for (const statement of (properties?.Policies ?? []).flatMap((p) => p.PolicyDocument.Statement)) {
        const resources = [statement.Resource].flat().map(resourceText);
        expect([role, resources.filter((r) => r === '*')]).toEqual([role, []]);
        if ([statement.Action].flat().some((a) => a.startsWith('logs:'))) for (const r of resources) expect(r.startsWith(logGroups)).toBe(true);
      }
      expect([role, allowed(config, Object.keys(config.functions).find((f) => config.functions[f].role === role)!, 'logs:PutLogEvents')]).toEqual([role, [`${logGroups}:*:*`]]);
    }
  });

  it('names the partition in every ARN it grants (GovCloud is aws-us-gov, China aws-cn): no arn:aws: in any statement', () => {
    const resources = allRoles(config)
      .flatMap((role) => roleStatements(config, role))
      .flatMap((s) => [s.Resource].flat().map(resourceText));
    expect(resources.length).toBeGreaterThan(20);
    expect(resources.filter((r) => r.startsWith('arn:') && !r.startsWith(`arn:\${AWS::Partition}:`))).toEqual([]);
  });

  describe('a model bucket encrypted with a customer-managed KMS key (modelBucketKmsKey)', () => {
    const key = 'arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    /** Each role's statements that name a KMS action: its actions and resources. */
    const kmsGrants = (printedConfig: Printed) =>
      Object.fromEntries(
        allRoles(printedConfig).map((role) => [
          role,
          roleStatements(printedConfig, role)
            .filter((s) => [s.Action].flat().some((a) => a.startsWith('kms:')))
            .map((s) => ({
              actions: [s.Action].flat().sort(),
              resources: [s.Resource].flat().map((r) => resourceText(deployedValue(printedConfig, r))),
              condition: s.Condition,
            })),
        ]),
      );

    it('lets readers decrypt with that key, and writers (batch scoring and its state machine included) also make data keys, only through S3: nothing more', async () => {
      const resolved = await printed(`modelBucketKmsKey=${key}`);
      // Only when S3 asks KMS for them (any region's S3, any partition's endpoint).
      const condition = { StringLike: { 'kms:ViaService': 's3.*' } };
      const read = [{ actions: ['kms:Decrypt'], resources: [key], condition }];
      // Decrypt too: a multipart upload decrypts its parts' data keys when it completes.
      const write = [{ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [key], condition }];
      const writers = ['StoreWriterRole', 'JobSubmitterRole', 'AliasWriterRole', 'JobWorkerRole', 'BatchStepRole', 'BatchTriggerRole', 'BatchWorkflowRole'];
      expect(kmsGrants(resolved)).toEqual({ [PROVIDER_ROLE]: read, ...Object.fromEntries(writers.map((role) => [role, write])) });
      // And so every function: the read-only ones decrypt, every one with a role of its own writes.
      const keyRef = resourceText({ Ref: 'ModelBucketKmsKey' });
      for (const [name, fn] of Object.entries(resolved.functions)) {
        expect([name, allowed(resolved, name, 'kms:Decrypt')]).toEqual([name, [keyRef]]);
        expect([name, allowed(resolved, name, 'kms:GenerateDataKey')]).toEqual([name, fn.role ? [keyRef] : []]);
      }
      // A policy attached to a role the template does not have fails the deploy.
      const attachedTo = Object.values(resolved.resources.Resources).flatMap((r) => (r.Type === 'AWS::IAM::Policy' ? (r.Properties?.Roles ?? []).map((ref) => ref.Ref) : []));
      for (const role of attachedTo) expect(allRoles(resolved)).toContain(role);
    }, 60_000);

    it('grants nothing on KMS when it is not set', () => {
      expect(Object.values(kmsGrants(config)).flat()).toEqual([]);
    });

    it('is refused by CloudFormation unless it is empty or a key ARN (a grant on an alias or a key id allows nothing)', () => {
      const pattern = new RegExp(config.resources.Parameters?.ModelBucketKmsKey.AllowedPattern ?? 'no pattern');
      for (const accepted of [
        '',
        key,
        'arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab',
        'arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      ])
        expect([accepted, pattern.test(accepted)]).toEqual([accepted, true]);
      for (const refused of [
        'alias/models',
        'arn:aws:kms:us-east-1:111122223333:alias/models',
        '1234abcd-12ab-34cd-56ef-1234567890ab',
        ' arn:aws:kms:us-east-1:111122223333:key/1234abcd',
      ])
        expect([refused, pattern.test(refused)]).toEqual([refused, false]);
    });
  });

  it('lets the writing functions make every S3 call the S3 store makes (lib/store/s3.ts), aborting a multipart upload included', async () => {
    // IAM actions per SDK command (a HEAD is a GetObject; a multipart upload's parts are PutObject).
    const actions: Record<string, string[]> = {
      GetObject: ['s3:GetObject'],
      HeadObject: ['s3:GetObject'],
      PutObject: ['s3:PutObject'],
      CreateMultipartUpload: ['s3:PutObject'],
      UploadPart: ['s3:PutObject'],
      UploadPartCopy: ['s3:PutObject', 's3:GetObject'],
      CompleteMultipartUpload: ['s3:PutObject'],
      AbortMultipartUpload: ['s3:AbortMultipartUpload'],
      DeleteObject: ['s3:DeleteObject'],
      ListObjectsV2: ['s3:ListBucket'],
      // Asked once when a HEAD finds no key, to tell a missing bucket from a missing key.
      HeadBucket: ['s3:ListBucket'],
      // @aws-sdk/lib-storage's Upload: a multipart upload that it aborts when a part fails.
      Upload: ['s3:PutObject', 's3:AbortMultipartUpload'],
    };
    const source = await readFile('lib/store/s3.ts', 'utf8');
    const calls = [...new Set([...source.matchAll(/sdk\.(\w+)Command\b/g)].map((m) => m[1]).concat(/new Upload\(/.test(source) ? ['Upload'] : []))];
    expect(calls).toContain('AbortMultipartUpload');
    // Every function with a role of its own writes. Deleting is batch scoring's and fineTune's alone (the test above).
    const writers = Object.keys(config.functions).filter((name) => config.functions[name].role !== undefined);
    expect(writers).toContain('jobWorker');
    for (const call of calls) {
      expect(actions[call], `IAM actions of ${call}`).toBeDefined();
      for (const action of actions[call].filter((a) => a !== 's3:DeleteObject')) {
        for (const name of writers) expect([name, call, action, allowed(config, name, action).length > 0]).toEqual([name, call, action, true]);
      }
    }
  });
});
