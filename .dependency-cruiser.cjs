/**
 * The dependency rules of docs/ARCHITECTURE.md, checked by `npm run lint` (and so by CI):
 * no cycles between modules or folders, handlers independent of each other, test code used only
 * by tests, and lib/ layered one way:
 *
 *   handlers -> api -> (http, ops, jobs, batch, services) -> loader -> (runtime, registry) -> store
 *   inputs, protocol and tensors are pure (no network or store I/O; image inputs alone use TF.js's
 *   image ops and read the JPEG decoder's wasm file); errors, bytes, config, random and
 *   observability are leaves.
 */
/** A rule: files matching `from` may import nothing under lib/ except `allowed`. */
const onlyImports = (name, from, allowed) => ({
  name,
  severity: 'error',
  from: { path: from },
  to: { path: '^lib/', pathNot: [from, ...allowed] },
});

const LEAVES = ['^lib/errors\\.ts$', '^lib/bytes\\.ts$', '^lib/tensors/'];

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'modules must not import each other in a cycle', from: {}, to: { circular: true } },
    { name: 'no-folder-cycles', severity: 'error', comment: 'folders depend one way', scope: 'folder', from: {}, to: { circular: true } },
    { name: 'handlers-are-independent', severity: 'error', comment: 'each handler is its own Lambda bundle', from: { path: '^handlers/' }, to: { path: '^handlers/' } },
    { name: 'test-code-stays-in-test', severity: 'error', from: { pathNot: '^test/' }, to: { path: '^test/' } },
    { name: 'lib-is-below-handlers-and-scripts', severity: 'error', from: { path: '^lib/' }, to: { path: '^(handlers|scripts|bench|cli)/' } },
    onlyImports('tensor-data-is-a-leaf', '^lib/tensors/data\\.ts$', []),
    onlyImports('leaves', '^lib/(errors|bytes|config|random|observability)\\.ts$', []),
    onlyImports('tensors', '^lib/tensors/', ['^lib/errors\\.ts$']),
    onlyImports('inputs-are-pure', '^lib/inputs/', LEAVES),
    onlyImports('keras-files-are-read-without-tfjs', '^lib/keras/', ['^lib/errors\\.ts$']),
    onlyImports('protocol-is-pure', '^lib/protocol/', [...LEAVES, '^lib/inputs/', '^lib/registry/manifest\\.ts$']),
    onlyImports('http-is-generic', '^lib/http/', ['^lib/errors\\.ts$', '^lib/bytes\\.ts$', '^lib/observability\\.ts$']),
    onlyImports('store-is-the-bottom', '^lib/store/', ['^lib/errors\\.ts$']),
    onlyImports('registry-sits-on-the-store', '^lib/registry/', [...LEAVES, '^lib/store/', '^lib/inputs/']),
    onlyImports('runtime-knows-tfjs-only', '^lib/runtime/', [...LEAVES, '^lib/observability\\.ts$', '^lib/registry/(artifacts|manifest)\\.ts$']),
    onlyImports('loader-sits-on-registry-and-runtime', '^lib/loader/', [...LEAVES, '^lib/observability\\.ts$', '^lib/registry/', '^lib/runtime/', '^lib/store/']),
    onlyImports('jobs', '^lib/jobs/', [...LEAVES, '^lib/observability\\.ts$', '^lib/registry/', '^lib/store/', '^lib/loader/', '^lib/runtime/(memory|recovery)\\.ts$']),
    onlyImports('ops-are-transport-free', '^lib/ops/', [
      ...LEAVES,
      '^lib/random\\.ts$',
      '^lib/inputs/',
      '^lib/keras/',
      '^lib/protocol/',
      '^lib/registry/',
      '^lib/store/',
      '^lib/loader/',
      '^lib/runtime/',
      '^lib/jobs/',
    ]),
    onlyImports('batch', '^lib/batch/', [
      ...LEAVES,
      '^lib/observability\\.ts$',
      '^lib/inputs/',
      '^lib/protocol/',
      '^lib/registry/',
      '^lib/store/',
      '^lib/loader/',
      '^lib/runtime/(memory|recovery)\\.ts$',
      '^lib/ops/',
      '^lib/jobs/',
      '^lib/services\\.ts$',
    ]),
    onlyImports('imports', '^lib/imports/', [
      ...LEAVES,
      '^lib/registry/',
      '^lib/store/',
      '^lib/ops/push(Folder|Keras)\\.ts$',
      '^lib/keras/archive\\.ts$',
      '^lib/runtime/(backend|memory|recovery)\\.ts$',
    ]),
    onlyImports('services-compose-the-layers-below', '^lib/services\\.ts$', ['^lib/config\\.ts$', '^lib/store/', '^lib/loader/', '^lib/runtime/', '^lib/jobs/']),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|\\.serverless)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js', '.json'] },
  },
};
