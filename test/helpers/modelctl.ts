/** Runs the modelctl binary (bin/modelctl.js) as a user would, and gives back what it printed and its exit code. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const modelctlBin = path.resolve('bin/modelctl.js');

/** This process's environment without MODEL_STORE_URI: modelctl then uses its default store, the repo's models/ folder. */
const { MODEL_STORE_URI: _store, ...repoStoreEnv } = process.env;

export async function runModelctl(args: string[], env: NodeJS.ProcessEnv = repoStoreEnv): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(modelctlBin, args, { env });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}
