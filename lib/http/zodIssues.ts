/** A zod error in words a client reads: each issue as `where: what`, the path from `root` (the body, an event). */
import type { ZodError } from 'zod';

export function describeIssues(error: ZodError, root = 'body'): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.length
        ? issue.path
            .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
            .join('')
            .replace(/^\./, '')
        : root;
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}
