/**
 * The README's shell examples as runnable steps: each command of a ```bash block (a quoted JSON
 * body may span lines) with the comment lines that follow it or sit on its line, which say what it
 * answers: `"key":value` pairs (strings exactly, numbers to the digits shown) or, for a line without
 * JSON, the text before any `...`.
 */

export interface ReadmeStep {
  /** 1-based line of the README where the command starts. */
  line: number;
  command: string;
  expectations: string[];
}

function quotesBalanced(text: string): boolean {
  let single = false;
  let double = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && !single) {
      i++;
      continue;
    }
    if (c === "'" && !double) single = !single;
    else if (c === '"' && !single) double = !double;
  }
  return !single && !double;
}

/** The command part of a line and its trailing `# comment` (a `#` outside quotes, after whitespace). */
function splitComment(line: string): [string, string | undefined] {
  let single = false;
  let double = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && !single) {
      i++;
      continue;
    }
    if (c === "'" && !double) single = !single;
    else if (c === '"' && !single) double = !double;
    else if (c === '#' && !single && !double && (i === 0 || /\s/.test(line[i - 1]))) return [line.slice(0, i).trimEnd(), line.slice(i + 1).trim()];
  }
  return [line, undefined];
}

/** A comment that shows JSON (or an elided part of it) is an answer. */
const isJsonAnswer = (comment: string) => /^[[{"]|^\.\.\./.test(comment);
/** Under a command: JSON for curl; for other commands (the CLI) also the text they print. */
const looksLikeAnswer = (comment: string, command: string) => isJsonAnswer(comment) || !command.startsWith('curl');

export function readmeSteps(markdown: string): ReadmeStep[] {
  const steps: ReadmeStep[] = [];
  const lines = markdown.split('\n');
  let inBash = false;
  let pending: ReadmeStep | undefined;
  let collecting = false; // comment lines right under a command are its answer
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('```')) {
      inBash = !inBash && line.trim() === '```bash';
      pending = undefined;
      continue;
    }
    if (!inBash) continue;
    const trimmed = line.trim();
    if (trimmed === '') {
      collecting = false;
      continue;
    }
    if (trimmed.startsWith('#')) {
      const comment = trimmed.slice(1).trim();
      if (collecting && pending && looksLikeAnswer(comment, pending.command)) pending.expectations.push(comment);
      else collecting = false;
      continue;
    }
    let [command, comment] = splitComment(line);
    const start = i;
    while (!quotesBalanced(command) && i + 1 < lines.length) {
      i++;
      const [more, moreComment] = splitComment(lines[i]);
      command += `\n${more}`;
      comment = moreComment;
    }
    // A comment on the command's own line is an answer only when it shows JSON (else it describes).
    pending = { line: start + 1, command: command.trim(), expectations: comment && isJsonAnswer(comment) ? [comment] : [] };
    steps.push(pending);
    collecting = true;
  }
  return steps;
}

/** `"key":value` pairs of an expectation whose value is a string, number or boolean. */
function expectedPairs(expectation: string): { key: string; value: string | number | boolean; decimals: number }[] {
  const pairs: { key: string; value: string | number | boolean; decimals: number }[] = [];
  for (const match of expectation.matchAll(/"([^"]+)":\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:e-?\d+)?|true|false)(?=\s*[,}\]]|$)/g)) {
    const [, key, raw] = match;
    if (raw.startsWith('"')) pairs.push({ key, value: JSON.parse(raw) as string, decimals: 0 });
    else if (raw === 'true' || raw === 'false') pairs.push({ key, value: raw === 'true', decimals: 0 });
    else pairs.push({ key, value: Number(raw), decimals: /\.(\d+)/.exec(raw)?.[1].length ?? 0 });
  }
  return pairs;
}

/** Every value of `key` anywhere in a JSON value. */
function valuesOf(json: unknown, key: string): unknown[] {
  const found: unknown[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === key) found.push(v);
        walk(v);
      }
    }
  };
  walk(json);
  return found;
}

/** Whether `output` shows what `expectation` says; a reason when it does not. */
export function unmet(expectation: string, output: string): string | undefined {
  const pairs = expectedPairs(expectation);
  if (pairs.length === 0) {
    const text = expectation.split('...')[0].trim();
    return text === '' || output.includes(text) ? undefined : `expected the output to contain ${JSON.stringify(text)}`;
  }
  const jsonStart = output.search(/[[{]/);
  let json: unknown;
  try {
    json = JSON.parse(output.slice(jsonStart));
  } catch {
    // Not JSON as a whole (a CLI's text with JSON on one line): look for each pair's text.
    const missing = pairs.filter((p) => !output.includes(`"${p.key}":${JSON.stringify(p.value)}`));
    return missing.length ? `expected ${missing.map((p) => `"${p.key}":${JSON.stringify(p.value)}`).join(', ')}` : undefined;
  }
  for (const { key, value, decimals } of pairs) {
    const candidates = valuesOf(json, key);
    const ok = candidates.some((c) => {
      if (typeof value === 'number' && typeof c === 'number') return Math.abs(c - value) <= 0.5 * 10 ** -decimals + 1e-12;
      // "iVBORw0KGgo...": a string shown in part.
      if (typeof value === 'string' && value.endsWith('...') && typeof c === 'string') return c.startsWith(value.slice(0, -3));
      return c === value;
    });
    if (!ok) return `expected "${key}":${JSON.stringify(value)}, found ${JSON.stringify(candidates).slice(0, 200)}`;
  }
  return undefined;
}
