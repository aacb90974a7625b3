// The working directory of one cluster and the bookkeeping that lets a later run clean up after
// this one: a marker file (only a directory carrying it is ever deleted), a pidfile recording the
// running processes, and, for throwaway clusters, an entry in a registry under TMP_ROOT, so that
// a run whose Node process was SIGKILLed is found and reaped wherever its directory is.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isAlive, onExitCleanup, readStat, terminateRecord, type ProcessRecord } from './procs.ts';

const MARKER = '.kube-offload-sandbox';
const PIDFILE = 'pids.json';
export const TMP_ROOT = path.join(os.tmpdir(), 'kube-offload-sandbox');

/**
 * Every non-persistent cluster registers its directory here while it runs, so a later start
 * can find (and clean) clusters whose Node process was SIGKILLed, wherever their directory is.
 */
const REGISTRY = path.join(TMP_ROOT, 'registry');

interface Pidfile {
  cluster: string;
  /** The Node process that started the cluster; its start time tells a reused pid apart. */
  owner: { pid: number; startTicks?: number };
  persistent: boolean;
  processes: ProcessRecord[];
}

function readPidfile(dir: string): Pidfile {
  return JSON.parse(fs.readFileSync(path.join(dir, PIDFILE), 'utf8')) as Pidfile;
}

function selfOwner(): Pidfile['owner'] {
  const stat = readStat(process.pid);
  return { pid: process.pid, ...(stat ? { startTicks: stat.startTicks } : {}) };
}

function ownerIsAlive(owner: Pidfile['owner']): boolean {
  const stat = readStat(owner.pid);
  if (!stat || !isAlive(owner.pid)) return false;
  return owner.startTicks === undefined || owner.startTicks === stat.startTicks;
}

/** Stops what the directory's pidfile records; terminateRecord leaves alone any pid reused since. */
async function stopRecordedProcesses(dir: string): Promise<void> {
  if (!fs.existsSync(path.join(dir, PIDFILE))) return;
  try {
    const pidfile = readPidfile(dir);
    await Promise.all((pidfile.processes ?? []).map((record) => terminateRecord(record, 3000)));
  } catch {
    // unreadable pidfile: nothing we can safely kill
  }
}

/**
 * Clears a directory left by an earlier run: stops the processes its pidfile records (only
 * those that are still the very same processes), then removes it. Refuses to delete a
 * non-empty directory that is not ours.
 */
export async function clearStaleDir(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return;
  await stopRecordedProcesses(dir);
  const entries = fs.readdirSync(dir);
  if (entries.length > 0 && !entries.includes(MARKER)) {
    throw new Error(`${dir} exists and is not a sandbox cluster directory (no ${MARKER}); refusing to delete it`);
  }
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
}

/** Clears `dir` if its owner died without cleaning up; true when the directory is gone for good. */
async function reapIfOrphan(dir: string): Promise<boolean> {
  let pidfile: Pidfile;
  try {
    pidfile = readPidfile(dir);
  } catch {
    return !fs.existsSync(dir); // no pidfile: being created (keep) or gone (forget)
  }
  if (pidfile.persistent || ownerIsAlive(pidfile.owner)) return false;
  await clearStaleDir(dir);
  return true;
}

interface OrphanCandidate {
  dir: string;
  /** The registry file that pointed at `dir`, to forget once `dir` is dealt with. */
  registryEntry?: string;
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** The cluster directories created under `root` itself (the default place). */
function dirsUnderRoot(root: string): OrphanCandidate[] {
  return listDir(root)
    .filter((name) => name !== 'registry')
    .map((name) => ({ dir: path.join(root, name) }));
}

/** The cluster directories registered under `registry`, wherever they are. */
function registeredDirs(registry: string): OrphanCandidate[] {
  const found: OrphanCandidate[] = [];
  for (const name of listDir(registry)) {
    const registryEntry = path.join(registry, name);
    try {
      const { dir } = JSON.parse(fs.readFileSync(registryEntry, 'utf8')) as { dir: string };
      found.push({ dir, registryEntry });
    } catch {
      // half-written entry: ignore
    }
  }
  return found;
}

async function reapCandidate({ dir, registryEntry }: OrphanCandidate): Promise<void> {
  try {
    if ((await reapIfOrphan(dir)) && registryEntry) fs.rmSync(registryEntry, { force: true });
  } catch {
    // not ours to delete (no marker) or already being cleaned: leave it
    if (registryEntry) fs.rmSync(registryEntry, { force: true });
  }
}

/**
 * Stops and removes clusters whose owning Node process died without cleaning up (crashed or
 * SIGKILLed test runs): every registered cluster and every directory under TMP_ROOT.
 * Processes are only killed after checking they are still the recorded ones.
 */
export async function reapOrphans(root = TMP_ROOT): Promise<void> {
  const candidates = [...dirsUnderRoot(root), ...registeredDirs(path.join(root, 'registry'))];
  await Promise.all(candidates.map(reapCandidate));
}

export interface ClusterDirOptions {
  /** The cluster's name: recorded in the marker and the pidfile, prefix of a fresh directory. */
  name: string;
  /** Reused after clearing what an earlier run left there. Default: a fresh directory under TMP_ROOT. */
  dir?: string | undefined;
  /** Default: true when `dir` was not given. */
  removeOnClose?: boolean | undefined;
  /** The processes outlive this Node process: no registry entry, nothing removed at exit. */
  persistent: boolean;
}

export interface ClusterDir {
  readonly path: string;
  /** <dir>/logs: one log file per process (and the audit log by default). */
  readonly logDir: string;
  /** Records the running processes; written atomically, so a reader never sees half a file. */
  writePidfile(processes: ProcessRecord[]): void;
  removePidfile(): void;
  /** Forgets the registry entry and the exit hook; removes the directory when configured to. */
  close(): void;
}

async function chooseDir(options: ClusterDirOptions): Promise<string> {
  if (options.dir) {
    const dir = path.resolve(options.dir);
    await clearStaleDir(dir);
    return dir;
  }
  fs.mkdirSync(TMP_ROOT, { recursive: true });
  return fs.mkdtempSync(path.join(TMP_ROOT, `${options.name}-`));
}

/** Adds `dir` to the registry; returns the entry's file. */
function register(dir: string): string {
  fs.mkdirSync(REGISTRY, { recursive: true });
  const entry = path.join(REGISTRY, `${process.pid}-${randomBytes(4).toString('hex')}.json`);
  fs.writeFileSync(entry, JSON.stringify({ dir }));
  return entry;
}

/** Creates (or clears and reuses) the cluster's directory, marks it ours and records it. */
export async function createClusterDir(options: ClusterDirOptions): Promise<ClusterDir> {
  const dir = await chooseDir(options);
  const removeOnClose = options.removeOnClose ?? !options.dir;
  const { name, persistent } = options;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, MARKER), `kube-offload sandbox cluster "${name}"\n`);
  const logDir = path.join(dir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });

  const writePidfile = (processes: ProcessRecord[]) => {
    const pidfile: Pidfile = { cluster: name, owner: selfOwner(), persistent, processes };
    const tmp = path.join(dir, `${PIDFILE}.tmp`);
    fs.writeFileSync(tmp, JSON.stringify(pidfile, null, 2));
    fs.renameSync(tmp, path.join(dir, PIDFILE));
  };
  writePidfile([]);
  const registryEntry = persistent ? undefined : register(dir);
  const unregister = () => {
    if (registryEntry) fs.rmSync(registryEntry, { force: true });
  };
  // An exit before close() must not leave anything behind (processes die by procs.ts' hook).
  const exitHook = persistent
    ? undefined
    : onExitCleanup(() => {
        unregister();
        if (removeOnClose) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      });

  return {
    path: dir,
    logDir,
    writePidfile,
    removePidfile: () => fs.rmSync(path.join(dir, PIDFILE), { force: true }),
    close() {
      exitHook?.remove();
      unregister();
      if (removeOnClose) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}
