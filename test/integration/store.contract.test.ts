/**
 * The ObjectStore contract, run unchanged against every implementation: the registry, jobs and
 * batch scoring rely only on this behaviour, so both stores must show exactly the same one.
 * S3Store runs against a real S3 protocol server (s3rver) behind a proxy that adds AWS's
 * If-None-Match semantics, which s3rver lacks (see test/helpers/conditionalS3Proxy.ts).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { promises as fsPromises } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConflictError, NotFoundError } from '../../lib/errors.js';
import { FolderStore } from '../../lib/store/folder.js';
import { listAll, listPrefixes, openStore, type ObjectStore } from '../../lib/store/index.js';
import type { ObjectInfo } from '../../lib/store/objectStore.js';
import { readInParts } from '../../lib/store/partsReader.js';
import { startConditionalS3Proxy } from '../helpers/conditionalS3Proxy.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';

interface Fixture {
  store: ObjectStore;
  stop(): Promise<void>;
}

async function folderFixture(): Promise<Fixture & { root: string }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'folder-store-'));
  return { root, store: new FolderStore(root), stop: () => rm(root, { recursive: true, force: true }) };
}

async function s3Fixture(): Promise<Fixture> {
  const s3 = await startS3rver();
  const proxy = await startConditionalS3Proxy(s3.endpoint);
  // A store prefix, so the suite also checks that keys come back relative to it.
  const store = openStore(`s3://${s3.bucket}/contract`, { ...s3.s3Options, endpoint: proxy.endpoint });
  return {
    store,
    async stop() {
      await proxy.stop();
      await s3.stop();
    },
  };
}

const text = new TextDecoder();
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const collect = async <T>(items: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
};
const bytesOf = async (stream: Readable) => new Uint8Array(Buffer.concat(await stream.toArray()));

/** A folder of its own for every test, so tests never see each other's keys. */
const freshPrefix = () => `t-${randomUUID()}/`;

/** Every page of a listing, following nextToken until the store says it is done. */
async function allPages(store: ObjectStore, prefix: string, options: { pageSize: number; delimiter?: string }) {
  const pages = [];
  let token: string | undefined;
  do {
    const page = await store.listPage(prefix, { ...options, token });
    pages.push(page);
    token = page.nextToken;
  } while (token && pages.length < 100); // bounded: a token that never ends must fail, not hang
  return pages;
}

describe.each([
  { name: 'FolderStore', start: folderFixture },
  { name: 'S3Store on s3rver', start: s3Fixture },
])('ObjectStore contract: $name', ({ start }) => {
  let fixture: Fixture;
  let store: ObjectStore;

  beforeAll(async () => {
    fixture = await start();
    store = fixture.store;
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  it('round-trips binary and string bodies', async () => {
    // Prepare
    const base = freshPrefix();
    const binary = Uint8Array.from({ length: 256 }, (_, i) => i);
    const unicode = 'héllo ✓ 模型\n';

    // Act
    await store.put(`${base}bin`, binary);
    await store.put(`${base}text.txt`, unicode, { contentType: 'text/plain' });

    // Assess
    expect(await store.get(`${base}bin`)).toEqual(binary);
    expect(text.decode(await store.get(`${base}text.txt`))).toBe(unicode);
  });

  it('stores an empty body without a word on the console (the SDK warned of a stream of unknown length: modelctl prune printed it every time)', async () => {
    const warn = vi.spyOn(console, 'warn');
    try {
      const key = `${freshPrefix()}empty`;
      await store.put(key, '');
      await store.put(`${key}-bytes`, new Uint8Array(0));
      expect((await store.head(key))?.size).toBe(0);
      expect(await store.get(`${key}-bytes`)).toEqual(new Uint8Array(0));
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it('head gives the size of an object and undefined for a missing key', async () => {
    const base = freshPrefix();
    await store.put(`${base}seven`, '1234567');

    const info = await store.head(`${base}seven`);
    const missing = await store.head(`${base}missing`);

    expect(info).toMatchObject({ key: `${base}seven`, size: 7 });
    expect(missing).toBeUndefined();
  });

  it('get and getStream of a missing key reject with NotFoundError, naming the key and not the store (a client may read it)', async () => {
    const base = freshPrefix();

    // Each read starts only when awaited: both begun at once, the second could reject before a
    // handler is attached, an unhandled rejection that fails the run.
    for (const read of [() => store.get(`${base}missing`), () => store.getStream(`${base}missing`)]) {
      const error = await read().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as Error).message).toBe(`no object ${base}missing`);
    }
  });

  it('getStream yields the stored bytes', async () => {
    const base = freshPrefix();
    const body = randomBytes(100_000);
    await store.put(`${base}blob`, body);

    const streamed = await bytesOf(await store.getStream(`${base}blob`));

    expect(sha256(streamed)).toBe(sha256(body));
  });

  it('getStream from a byte offset yields the rest of the object', async () => {
    const base = freshPrefix();
    const body = randomBytes(10_000);
    await store.put(`${base}blob`, body);

    const tail = await bytesOf(await store.getStream(`${base}blob`, { start: 6_000 }));

    expect(sha256(tail)).toBe(sha256(body.subarray(6_000)));
  });

  it('getStream from the end of the object yields nothing, pinned or not (a batch run that stopped after its last row resumes there)', async () => {
    const base = freshPrefix();
    await store.put(`${base}blob`, randomBytes(1_000));
    const etag = (await store.head(`${base}blob`))?.etag ?? '';

    for (const options of [{ start: 1_000 }, { start: 1_000, ifMatch: etag }, { start: 1_500 }]) {
      expect((await bytesOf(await store.getStream(`${base}blob`, options))).length, JSON.stringify(options)).toBe(0);
    }
    // Still pinned there: another version is refused, not read as nothing.
    await store.put(`${base}blob`, randomBytes(1_000));
    await expect(store.getStream(`${base}blob`, { start: 1_000, ifMatch: etag })).rejects.toThrow(ConflictError);
  });

  it('getStream with ifMatch reads the version it names and refuses a replaced one', async () => {
    const base = freshPrefix();
    const first = randomBytes(10_000);
    await store.put(`${base}blob`, first);
    const etag = (await store.head(`${base}blob`))?.etag ?? '';

    const range = await bytesOf(await store.getStream(`${base}blob`, { start: 100, end: 200, ifMatch: etag }));
    await store.put(`${base}blob`, randomBytes(10_001));

    expect(sha256(range)).toBe(sha256(first.subarray(100, 200)));
    await expect(store.getStream(`${base}blob`, { ifMatch: etag })).rejects.toThrow(ConflictError);
    await expect(store.getStream(`${base}blob`, { ifMatch: etag })).rejects.toThrow(/blob .*has changed/);
  });

  it('readInParts yields the object in order, whatever the parts in flight, and fails if it is replaced midway', async () => {
    const base = freshPrefix();
    const body = randomBytes(4 * 65_536 + 3);
    await store.put(`${base}big`, body);
    const source = { size: body.length, etag: (await store.head(`${base}big`))?.etag ?? '', partBytes: 65_536 };

    for (const parallel of [1, 3, 8]) {
      const chunks = await collect(readInParts(store, `${base}big`, { ...source, parallel }));
      expect(sha256(Buffer.concat(chunks)), `${parallel} in flight`).toBe(sha256(body));
    }
    const reading = readInParts(store, `${base}big`, { ...source, parallel: 1 });
    await reading.next();
    await store.put(`${base}big`, randomBytes(body.length + 1));
    await expect(collect(reading)).rejects.toThrow(ConflictError);
  });

  it('putStream stores a large streamed body byte-exact', async () => {
    // Prepare: 12 MB in 64 KB chunks; over the SDK's 5 MB part size, so S3 goes multipart.
    const base = freshPrefix();
    const body = randomBytes(12 * 1024 * 1024);
    const chunks = Array.from({ length: body.length / 65_536 }, (_, i) => body.subarray(i * 65_536, (i + 1) * 65_536));

    // Act
    await store.putStream(`${base}large.bin`, Readable.from(chunks));

    // Assess
    expect((await store.head(`${base}large.bin`))?.size).toBe(body.length);
    expect(sha256(await bytesOf(await store.getStream(`${base}large.bin`)))).toBe(sha256(body));
  });

  it('delete removes an object, and deleting a missing key is not an error', async () => {
    const base = freshPrefix();
    await store.put(`${base}doomed`, 'x');

    await store.delete(`${base}doomed`);

    expect(await store.head(`${base}doomed`)).toBeUndefined();
    await expect(store.delete(`${base}never-existed`)).resolves.toBeUndefined();
  });

  it('listPage pages in byte order with nextToken, and listAll yields every object once', async () => {
    // Prepare: written out of order; byte order puts 'A' and 'B' before 'a'. No name extends
    // another with a character below '.': s3rver walks its files in file-name order and would
    // drop such keys between pages (FolderStore specifics cover that order; AWS gets it right).
    const base = freshPrefix();
    const names = ['z', 'b', 'a0', 'A', 'c/d', 'a', 'B'];
    for (const name of names) await store.put(`${base}${name}`, name);
    const expected = ['A', 'B', 'a', 'a0', 'b', 'c/d', 'z'].map((name) => `${base}${name}`);

    // Act
    const pages = await allPages(store, base, { pageSize: 2 });
    const listed: ObjectInfo[] = [];
    for await (const info of listAll(store, base, 2)) listed.push(info);

    // Assess
    expect(pages.map((page) => page.objects.length)).toEqual([2, 2, 2, 1]);
    expect(pages.flatMap((page) => page.objects.map((o) => o.key))).toEqual(expected);
    expect(pages.at(-1)?.nextToken).toBeUndefined();
    expect(listed.map((o) => o.key)).toEqual(expected);
    expect(listed.find((o) => o.key === `${base}c/d`)?.size).toBe(3);
  });

  it("listPage with delimiter '/' reports folders as common prefixes", async () => {
    const base = freshPrefix();
    for (const key of ['a/1/x', 'a/1/y', 'a/2/z', 'a/top']) await store.put(`${base}${key}`, key);

    const page = await store.listPage(`${base}a/`, { delimiter: '/' });

    expect(page.prefixes).toEqual([`${base}a/1/`, `${base}a/2/`]);
    expect(page.objects.map((o) => o.key)).toEqual([`${base}a/top`]);
    expect(page.nextToken).toBeUndefined();
  });

  it("listPage with delimiter '/' and pageSize 1 reports each folder and object once across pages", async () => {
    const base = freshPrefix();
    for (const key of ['a/1/x', 'a/1/y', 'a/2/z', 'a/top']) await store.put(`${base}${key}`, key);

    const pages = await allPages(store, `${base}a/`, { pageSize: 1, delimiter: '/' });

    // What callers rely on: nothing missing, nothing twice. How many entries a page holds is
    // not asserted here: s3rver, unlike AWS, does not count common prefixes against MaxKeys.
    expect(pages.flatMap((page) => page.prefixes)).toEqual([`${base}a/1/`, `${base}a/2/`]);
    expect(pages.flatMap((page) => page.objects.map((o) => o.key))).toEqual([`${base}a/top`]);
  });

  it('listPrefixes gives the folders directly under a prefix', async () => {
    const base = freshPrefix();
    for (const key of ['m/1/x', 'm/1/y', 'm/2/z', 'm/top', 'n/w']) await store.put(`${base}${key}`, key);

    expect(await listPrefixes(store, base)).toEqual([`${base}m/`, `${base}n/`]);
    expect(await listPrefixes(store, `${base}m/`)).toEqual([`${base}m/1/`, `${base}m/2/`]);
  });

  it('a prefix with no keys lists nothing', async () => {
    const base = freshPrefix();
    await store.put(`${base}other/key`, 'x');
    const empty = `${base}nothing/`;

    const page = await store.listPage(empty);
    const delimited = await store.listPage(empty, { delimiter: '/' });
    const listed: ObjectInfo[] = [];
    for await (const info of listAll(store, empty)) listed.push(info);

    expect(page).toEqual({ objects: [], prefixes: [] });
    expect(delimited).toEqual({ objects: [], prefixes: [] });
    expect(listed).toEqual([]);
    expect(await listPrefixes(store, empty)).toEqual([]);
  });

  it('put with ifNoneMatch creates a new key but never overwrites an existing one', async () => {
    // Prepare
    const base = freshPrefix();

    // Act
    await store.put(`${base}once`, 'original', { ifNoneMatch: true });
    const second = store.put(`${base}once`, 'overwrite', { ifNoneMatch: true });

    // Assess
    await expect(second).rejects.toBeInstanceOf(ConflictError);
    expect(text.decode(await store.get(`${base}once`))).toBe('original');
  });

  it('of 20 concurrent create-only puts on one key exactly one succeeds', async () => {
    const base = freshPrefix();

    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => store.put(`${base}race`, `writer ${i}`, { ifNoneMatch: true })));

    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    const losers = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(19);
    for (const reason of losers) expect(reason).toBeInstanceOf(ConflictError);
    expect(text.decode(await store.get(`${base}race`))).toBe(`writer ${winners[0]}`);
  });

  it('put with ifMatch replaces only the version it names, and refuses a replaced or missing key', async () => {
    const base = freshPrefix();
    await store.put(`${base}doc`, 'first');
    const first = (await store.head(`${base}doc`))?.etag as string;

    await store.put(`${base}doc`, 'other', { ifMatch: first });
    const stale = store.put(`${base}doc`, 'third', { ifMatch: first });
    await expect(stale).rejects.toBeInstanceOf(ConflictError);
    const missing = store.put(`${base}gone`, 'x', { ifMatch: first });
    await expect(missing).rejects.toBeInstanceOf(ConflictError);

    expect(text.decode(await store.get(`${base}doc`))).toBe('other');
    expect(await store.head(`${base}gone`)).toBeUndefined();
    expect((await store.listPage(base)).objects.map((o) => o.key)).toEqual([`${base}doc`]); // no lock or temporary file listed
  });

  it('of 20 concurrent puts with ifMatch of one ETag exactly one succeeds', async () => {
    const base = freshPrefix();
    await store.put(`${base}cas`, 'start');
    const etag = (await store.head(`${base}cas`))?.etag as string;

    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => store.put(`${base}cas`, `writer ${i}`, { ifMatch: etag })));

    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(winners).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
    expect(text.decode(await store.get(`${base}cas`))).toBe(`writer ${winners[0]}`);
  });

  it('different bodies of one size written at the same moment get distinct ETags, so ifMatch never takes one write for another', async () => {
    // A folder dated files from a coarse clock (4 ms ticks on Linux): these writes share ticks.
    const base = freshPrefix();
    const key = (i: number) => `${base}k${String(i).padStart(2, '0')}`;

    await Promise.all(Array.from({ length: 20 }, (_, i) => store.put(key(i), `body ${String(i).padStart(2, '0')}`)));
    const etags = await Promise.all(Array.from({ length: 20 }, async (_, i) => (await store.head(key(i)))?.etag));

    expect(new Set(etags).size).toBe(20);
  });
});

describe('FolderStore specifics', () => {
  let fixture: Awaited<ReturnType<typeof folderFixture>>;

  beforeAll(async () => {
    fixture = await folderFixture();
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  it("abandonWrites removes the temporary files of writes killed mid-way, keeps the finished object and other keys' temporaries, and prunes an emptied folder", async () => {
    const store = new FolderStore(path.join(fixture.root, 'abandon'));
    await store.put('run/parts/00002.predictions', 'done before');
    const folder = path.join(fixture.root, 'abandon', 'run', 'parts');
    const temp = (name: string) => path.join(folder, `${name}.${randomUUID()}.tmp-upload`);
    const [mine, other] = [temp('00002.predictions'), temp('00003.predictions')];
    await Promise.all([writeFile(mine, 'half'), writeFile(other, 'half')]);
    await store.abandonWrites('run/parts/00002.predictions');
    expect((await readdir(folder)).sort()).toEqual(['00002.predictions', path.basename(other)].sort());
    await store.delete('run/parts/00002.predictions');
    await store.abandonWrites('run/parts/00003.predictions');
    expect(await readdir(path.join(fixture.root, 'abandon'))).toEqual([]);
  });

  it("abandonWritesUnder removes the temporary files of any key under the prefix (an earlier run's too), keeps finished objects and temporaries elsewhere, and prunes emptied folders", async () => {
    const store = new FolderStore(path.join(fixture.root, 'abandon-under'));
    await store.put('run/parts/00002.predictions', 'done before');
    const temp = (key: string) => path.join(fixture.root, 'abandon-under', ...`${key}.${randomUUID()}.tmp-upload`.split('/'));
    await mkdir(path.join(fixture.root, 'abandon-under', 'run', 'parts', 'deeper'), { recursive: true });
    await mkdir(path.join(fixture.root, 'abandon-under', 'other'), { recursive: true });
    const under = [temp('run/parts/00007.json'), temp('run/parts/deeper/plan.json')];
    const elsewhere = temp('other/00007.json');
    await Promise.all([...under, elsewhere].map((file) => writeFile(file, 'half')));
    await writeFile(path.join(fixture.root, 'abandon-under', 'run', 'parts', 'notes.tmp-upload'), 'not a store temporary');
    await store.abandonWritesUnder('run/parts/');
    expect((await readdir(path.join(fixture.root, 'abandon-under', 'run', 'parts'))).sort()).toEqual(['00002.predictions', 'notes.tmp-upload']);
    expect(await readdir(path.join(fixture.root, 'abandon-under', 'other'))).toEqual([path.basename(elsewhere)]);
  });

  it("rejects keys with a '..' segment and writes nothing outside its root", async () => {
    // Prepare: the store lives one level down, so an escape would land in a folder we can see.
    const store = new FolderStore(path.join(fixture.root, 'inner'));

    // Act + Assess
    await expect(store.put('../escaped', 'x')).rejects.toThrow(/invalid object key/);
    await expect(store.put('a/../../escaped', 'x')).rejects.toThrow(/invalid object key/);
    await expect(store.get('../escaped')).rejects.toThrow(/invalid object key/);
    await expect(store.head('../escaped')).rejects.toThrow(/invalid object key/);
    await expect(store.delete('../escaped')).rejects.toThrow(/invalid object key/);
    expect(await readdir(fixture.root)).not.toContain('escaped');
  });

  it('lists in byte order even where the folder layout sorts differently', async () => {
    // Prepare: '-' (0x2d) sorts before '/' (0x2f), so 'm-n' comes before the folder 'm/'.
    const { store } = fixture;
    const base = freshPrefix();
    for (const name of ['m0', 'm/n', 'a0', 'm-n', 'a', 'a-']) await store.put(`${base}${name}`, name);

    // Act
    const pages = await allPages(store, base, { pageSize: 2 });

    // Assess
    expect(pages.flatMap((page) => page.objects.map((o) => o.key))).toEqual(['a', 'a-', 'a0', 'm-n', 'm/n', 'm0'].map((name) => `${base}${name}`));
  });

  it('counts common prefixes against pageSize, as S3 does', async () => {
    const { store } = fixture;
    const base = freshPrefix();
    for (const key of ['a/1/x', 'a/1/y', 'a/2/z', 'a/top']) await store.put(`${base}${key}`, key);

    const pages = await allPages(store, `${base}a/`, { pageSize: 1, delimiter: '/' });

    expect(pages.map((page) => [...page.prefixes, ...page.objects.map((o) => o.key)])).toEqual([[`${base}a/1/`], [`${base}a/2/`], [`${base}a/top`]]);
  });

  it('never lists the temp file of a write still in progress', async () => {
    // Prepare: a streamed write that is held open halfway.
    const { store, root } = fixture;
    const base = freshPrefix();
    await store.put(`${base}done`, 'x');
    const body = new PassThrough();
    const writing = store.putStream(`${base}pending`, body);
    body.write('first half');
    // Wait until the temp file is really on disk, or this test would prove nothing.
    const folder = path.join(root, base);
    await expect.poll(async () => (await readdir(folder)).some((f) => f.endsWith('.tmp-upload'))).toBe(true);

    // Act
    const during = await store.listPage(base);
    body.end('second half');
    await writing;
    const after = await store.listPage(base);

    // Assess
    expect(during.objects.map((o) => o.key)).toEqual([`${base}done`]);
    expect(after.objects.map((o) => o.key)).toEqual([`${base}done`, `${base}pending`]);
    expect(text.decode(await store.get(`${base}pending`))).toBe('first halfsecond half');
    expect((await readdir(folder)).filter((f) => f.endsWith('.tmp-upload'))).toEqual([]);
  });

  it('leaves no empty folder behind a deleted object, as a bucket has none, and keeps its root', async () => {
    const root = path.join(fixture.root, `own-${randomUUID()}`);
    const store = new FolderStore(root);
    await store.put('a/b/c.txt', 'c');
    await store.put('a/d.txt', 'd');

    await store.delete('a/b/c.txt');
    expect(await readdir(path.join(root, 'a'))).toEqual(['d.txt']);
    await store.delete('a/d.txt');

    expect(await readdir(root)).toEqual([]);
  });

  it('concat reads each part only once its ready(i) resolves (a part written while the join waits is joined whole); a ready that rejects leaves no target and no temporary file', async () => {
    const { store, root } = fixture;
    const base = freshPrefix();
    await store.put(`${base}p0`, 'first,');
    let release = () => {};
    const second = new Promise<void>((resolve) => {
      release = resolve;
    });
    const joining = (store as FolderStore).concat([`${base}p0`, `${base}p1`], `${base}joined`, { ready: (i) => (i === 1 ? second : Promise.resolve()) });
    // Part 1 is written only while the join waits for it: read before its ready, it would be missing.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await store.put(`${base}p1`, 'second');
    release();
    await joining;
    expect(text.decode(await store.get(`${base}joined`))).toBe('first,second');

    const refused = (store as FolderStore).concat([`${base}p0`, `${base}p1`], `${base}refused`, {
      ready: (i) => (i === 1 ? Promise.reject(new Error('range 1 failed')) : Promise.resolve()),
    });
    await expect(refused).rejects.toThrow('range 1 failed');
    expect(await store.head(`${base}refused`)).toBeUndefined();
    expect((await readdir(path.join(root, base))).filter((name) => name.endsWith('.tmp-upload'))).toEqual([]);
  });

  it('concat joins parts longer than its copy buffer, and an empty one, byte for byte', async () => {
    const { store } = fixture;
    const base = freshPrefix();
    // Sizes around the 1 MiB buffer the folder copies through: a stale byte of an earlier read would show.
    const parts = [randomBytes(2.5 * 2 ** 20 + 3), Buffer.alloc(0), randomBytes(2 ** 20), randomBytes(7)];
    for (const [i, part] of parts.entries()) await store.put(`${base}p${i}`, part);
    await (store as FolderStore).concat(
      parts.map((_, i) => `${base}p${i}`),
      `${base}joined`,
    );
    expect(sha256(Buffer.from(await store.get(`${base}joined`)))).toBe(sha256(Buffer.concat(parts)));
  });
  it.each(['put', 'putStream', 'concat'] as const)('%s writes into a folder that a delete of its last object removed right after the write made it', async (write) => {
    // The race made certain: the first mkdir of the target's folder is undone at once, as a delete
    // pruning that folder between the write's mkdir and its create would.
    const { store, root } = fixture;
    const base = freshPrefix();
    await store.put(`${base}source`, 'a');
    const folder = path.join(root, base, 'racy');
    const mkdir = fsPromises.mkdir;
    let undone = 0;
    const spy = vi.spyOn(fsPromises, 'mkdir').mockImplementation(async (dir, options) => {
      const made = await mkdir(dir, options);
      if (dir === folder && undone === 0) {
        undone += 1;
        await rm(folder, { recursive: true });
      }
      return made;
    });
    try {
      const key = `${base}racy/object`;
      if (write === 'put') await store.put(key, 'b');
      else if (write === 'putStream') await store.putStream(key, Readable.from(['b']));
      else await (store as FolderStore).concat([`${base}source`, `${base}source`], key);
      expect(undone).toBe(1);
      expect((await store.listPage(`${base}racy/`)).objects.map((o) => o.key)).toEqual([key]);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('S3Store on s3rver specifics', () => {
  let s3: S3rverHandle;

  beforeAll(async () => {
    s3 = await startS3rver();
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it('head of a key in a bucket that does not exist rejects naming the bucket (HEAD answers a bare 404 either way), not undefined as for a missing key', async () => {
    const noBucket = openStore('s3://no-such-bucket/models', s3.s3Options);
    await expect(noBucket.head('x.csv')).rejects.toMatchObject({ name: 'NoSuchBucket', BucketName: 'no-such-bucket' });
    expect(await s3.store.head('no/such/key')).toBeUndefined();
    expect(await s3.store.head('no/such/key')).toBeUndefined(); // the bucket, once seen, is not asked again
  });

  it('emits S3 notifications: Put for put, Post for a multipart putStream, Delete for delete', async () => {
    // Prepare
    const events: Array<{ name: string; key: string }> = [];
    const unsubscribe = s3.onEvent((event) => {
      for (const record of event.Records) events.push({ name: record.eventName, key: record.s3.object.key });
    });
    const body = randomBytes(6 * 1024 * 1024); // over the 5 MB part size: two parts

    // Act
    await s3.store.put('events/small', 'x');
    await s3.store.putStream('events/large', Readable.from([body]));
    await s3.store.delete('events/small');
    unsubscribe();
    await s3.store.put('events/after-unsubscribe', 'x');

    // Assess
    expect(events).toEqual([
      { name: 'ObjectCreated:Put', key: 'events/small' },
      { name: 'ObjectCreated:Post', key: 'events/large' },
      { name: 'ObjectRemoved:Delete', key: 'events/small' },
    ]);
  });
});
