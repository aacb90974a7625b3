// The section registry: `npm run bench` runs these in order (select with --only / --skip).
// A new area of measurement is a module in this folder exporting a Section (bench/lib/types.ts),
// added here. Sections that need a real cluster share ctx.sandbox().
import type { Section } from '../lib/types.ts';
import { admissionSection } from './admission.ts';
import { apiserverSection } from './apiserver.ts';
import { kubeletSection } from './kubelet.ts';
import { realNodeSection } from './realnode.ts';
import { syncerSection } from './syncer.ts';
import { virtualNodeSection } from './virtualnode.ts';
import { webhooksSection } from './webhooks.ts';

export const SECTIONS: readonly Section[] = [
  webhooksSection,
  admissionSection,
  apiserverSection,
  syncerSection,
  virtualNodeSection,
  kubeletSection,
  realNodeSection,
];
