// Compiles the TypeScript to dist/ (`npm run build`'s tsc), so a benchmark can run a component as
// the image runs it (bin/kube-offload.js with KUBE_OFFLOAD_RUN=dist). Type stripping costs ~30 MiB
// of RSS at load, which the image never pays; memory rows must not count it.
import { spawn } from 'node:child_process';
import path from 'node:path';

let built: Promise<void> | undefined;

/**
 * Runs `tsc -p tsconfig.build.json` once per bench run. Type errors that still let tsc write every
 * output (its exit code 2) are passed to `warn`, as the code that runs is complete; any other
 * failure rejects with tsc's output.
 */
export function buildDist(
  repoRoot: string,
  warn: (text: string) => void = (t) => process.stderr.write(`${t}\n`),
): Promise<void> {
  built ??= new Promise<void>((resolve, reject) => {
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const child = spawn(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => (output += String(c)));
    child.stderr.on('data', (c) => (output += String(c)));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve();
      else if (code === 2) {
        warn(`bench: tsc -p tsconfig.build.json reported type errors but wrote dist/:\n${output.slice(0, 2000)}`);
        resolve();
      } else reject(new Error(`tsc -p tsconfig.build.json exited ${code}: ${output.slice(0, 2000)}`));
    });
  });
  return built;
}
