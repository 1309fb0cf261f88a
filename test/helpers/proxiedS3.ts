/**
 * The store-fault tests' setting: s3rver holding some of the demo models, behind the proxy that
 * can refuse, throttle, stall or cut its answers (conditionalS3Proxy.ts). Tests arrange through
 * `store` (s3rver itself) and serve through `proxy.endpoint`.
 */
import { openStore, type ObjectStore } from '../../lib/store/index.js';
import { startConditionalS3Proxy, type ConditionalS3Proxy } from './conditionalS3Proxy.js';
import { startS3rver, type S3rverHandle } from './s3rver.js';
import { syncFolder } from './stores.js';

export interface ProxiedS3 {
  s3: S3rverHandle;
  proxy: ConditionalS3Proxy;
  store: ObjectStore;
  stop(): Promise<void>;
}

export async function startProxiedS3(models: string[]): Promise<ProxiedS3> {
  const s3 = await startS3rver();
  const proxy = await startConditionalS3Proxy(s3.endpoint);
  const store = openStore(s3.uri, s3.s3Options);
  for (const name of models) await syncFolder(store, `models/${name}`, `${name}/`);
  return {
    s3,
    proxy,
    store,
    async stop() {
      await proxy.stop();
      await s3.stop();
    },
  };
}
