#!/usr/bin/env node
// Runs the TypeScript sources directly (Node 24 strips types) in a source checkout,
// and the compiled dist/ in an image built by the Dockerfile.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const compiled = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));
const { main } = await import(existsSync(source) ? source : compiled);
process.exitCode = await main(process.argv.slice(2));
