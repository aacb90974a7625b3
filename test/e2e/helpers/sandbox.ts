// Mocha glue: one sandbox (both clusters) per describe block, torn down afterwards.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBinaries } from '../../../src/sandbox/binaries.ts';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../../src/sandbox/sandbox.ts';

export interface SandboxHandle {
  /** Available once the before() hook ran. */
  readonly sandbox: Sandbox;
}

/**
 * Registers before/after hooks that start a sandbox in a fresh temporary directory and stop
 * it (verifying no process is left). Call at the top of a describe():
 *
 *   const env = useSandbox({ components: kubeOffloadComponents });
 *   it('...', async () => { await env.sandbox.local.kubectl(['get', 'pods']); });
 */
export function useSandbox(opts: Partial<SandboxOptions> = {}): SandboxHandle {
  let sandbox: Sandbox | undefined;
  let dir: string | undefined;
  before(async function () {
    // A cold control-plane build takes long; a cached one is instant.
    this.timeout(60 * 60_000);
    const binDir = opts.binDir ?? (await ensureBinaries());
    this.timeout(300_000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-offload-e2e-'));
    sandbox = await startSandbox({ ...opts, dir, binDir });
  });
  after(async function () {
    this.timeout(120_000);
    try {
      await sandbox?.stop();
    } finally {
      if (dir) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    }
  });
  return {
    get sandbox(): Sandbox {
      if (!sandbox) throw new Error('sandbox not started (use it inside it()/before() after useSandbox)');
      return sandbox;
    },
  };
}
