/**
 * docs/openapi.json is the document the README points readers to: it must be what the route table
 * generates now (`npm run build` rewrites it; a change committed without the rebuild left it
 * describing answers the code no longer gives, as before d91641c).
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../lib/api/openapi.js';

describe('docs/openapi.json', () => {
  it('is what lib/api/openapi.ts generates from the route table (run `npm run build` after changing a route)', async () => {
    const committed = await readFile('docs/openapi.json', 'utf8');
    expect(committed).toBe(`${JSON.stringify(await openApiDocument(), null, 2)}\n`);
  });
});
