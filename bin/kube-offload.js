#!/usr/bin/env node
// Runs the TypeScript sources directly (Node 24 strips types) in a source checkout,
// and the compiled dist/ in an image built by the Dockerfile. KUBE_OFFLOAD_RUN=dist picks the
// compiled code in a checkout too (after `npm run build`): the benchmarks measure memory that
// way, since type stripping alone costs ~30 MiB of RSS that the image does not pay.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const compiled = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));
const useSource = existsSync(source) && !(process.env.KUBE_OFFLOAD_RUN === 'dist' && existsSync(compiled));
const { main } = await import(useSource ? source : compiled);
process.exitCode = await main(process.argv.slice(2));
