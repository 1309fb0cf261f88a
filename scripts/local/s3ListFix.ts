/**
 * s3rver 3.7.1 prunes every folder below the first delimiter while walking, so a delimited
 * listing only reports a common prefix when an object sits directly one level down: listing the
 * model names of `iris/versions/1/model.json` with Delimiter '/' returns nothing. AWS S3 reports
 * `iris/`. This restores S3's behaviour in the test server (the same semantics otherwise: common
 * prefixes are gathered from the matching keys and do not count toward MaxKeys, as s3rver does).
 */
interface S3rverObject {
  key: string;
}
interface ListResult {
  objects: S3rverObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
}
interface ListOptions {
  delimiter?: string;
  prefix?: string;
  maxKeys?: number;
  startAfter?: string;
}
interface StoreLike {
  listObjects(bucket: string, options: ListOptions): Promise<ListResult>;
}

export function fixDelimitedListing(store: StoreLike): void {
  const original = store.listObjects.bind(store);
  store.listObjects = async (bucket, options) => {
    const { delimiter = '', prefix = '', maxKeys = Infinity } = options;
    if (!delimiter) return original(bucket, options);
    const all = await original(bucket, { ...options, delimiter: '', maxKeys: Infinity });
    const objects: S3rverObject[] = [];
    const commonPrefixes = new Set<string>();
    let isTruncated = false;
    for (const object of all.objects) {
      const cut = object.key.slice(prefix.length).indexOf(delimiter);
      if (cut !== -1) {
        commonPrefixes.add(object.key.slice(0, prefix.length + cut + delimiter.length));
      } else if (objects.length < maxKeys) {
        objects.push(object);
      } else {
        isTruncated = true;
        break;
      }
    }
    return { objects, commonPrefixes: [...commonPrefixes].sort(), isTruncated };
  };
}
