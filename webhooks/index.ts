// PLACEHOLDER until the webhooks are written: route path -> pure handler.
import type { AdmissionHandler } from './types.ts';

const allow: AdmissionHandler = (request) => ({ uid: request.uid, allowed: true });

export const handlers: Record<'/mutate/pods' | '/mutate/workloads' | '/mutate/replicated' | '/validate', AdmissionHandler> = {
  '/mutate/pods': allow,
  '/mutate/workloads': allow,
  '/mutate/replicated': allow,
  '/validate': allow,
};
