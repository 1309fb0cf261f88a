/**
 * The README's tables are what a user reads to set the bundle up: every variable lib/config.ts
 * reads, and every `--param` serverless.yml takes, must be named there, so a new one is not left
 * for users to find in the code.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../../lib/config.js';

/** A section of the README, from its "## " heading to the next. */
function readmeSection(heading: string): string {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf(`\n## ${heading}\n`);
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

/** The first cells of a section's table rows. */
function tableNames(section: string): string {
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => line.split(' | ')[0])
    .join('\n');
}

describe('README tables', () => {
  it('name every variable lib/config.ts reads (those Lambda or serverless offline set excepted)', () => {
    // Set by the Lambda runtime (or serverless offline, or the credential chain), never by the user.
    const setByRuntime = /^(AWS_(?!LAMBDA_FUNCTION_MEMORY_SIZE$)|IS_OFFLINE$)/;
    const names = tableNames(readmeSection('Configuration'));
    const missing = CONFIG_VARIABLES.filter((v) => !setByRuntime.test(v) && !names.includes(`\`${v}\``));
    expect(missing).toEqual([]);
  });

  it('name every --param serverless.yml takes, with the variable it falls back to', () => {
    // params.default's entries, one a line: `    name: ${env:VARIABLE, 'default'}`.
    const text = readFileSync('serverless.yml', 'utf8');
    const block = /^params:\n {2}default:\n((?: {4}.*\n|\s*\n)+)/m.exec(text)?.[1] ?? '';
    const params = [...block.matchAll(/^ {4}(\w+): \$\{env:(\w+)/gm)].map(([, param, variable]) => [param, variable] as const);
    expect(params.length).toBeGreaterThan(5);
    const names = tableNames(readmeSection('Deploying'));
    const missing = params.flatMap((pair) => pair.map((name) => `\`${name}\``).filter((name) => !names.includes(name)));
    expect(missing).toEqual([]);
  });
});
