// The kube-offload image, built from the repository's Dockerfile with no Docker daemon and no
// registry: buildah (Debian's package; `--isolation chroot`, so no daemon, no user namespaces)
// runs the Dockerfile as it is, with the two base images it takes as build args replaced by local
// stand-ins made from this host's files:
//
//   build base    node:24-bookworm-slim's part the Dockerfile uses: the Node.js 24 binary of the
//                 `node` devDependency and its glibc libraries, npm (the host's), busybox-static
//                 as /bin/sh; npm offline from a copy of the host's npm cache (`npm ci` filled it)
//   runtime base  distroless nodejs24-debian12:nonroot's layout: /nodejs/bin/node and its
//                 libraries, user 65532, no shell, no npm
//
// The image is pushed to an OCI archive that `ctr images import` reads (see
// realnode/containerd.ts). Everything is cached outside the repository, keyed by content: the
// bases by the node, npm and busybox they hold, the archive by the Dockerfile and every file it
// copies. buildah keeps its storage under the cache directory (never /var/lib/containers) and its
// run root in a temporary directory; every container and mount it made is removed before return.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './binaries.ts';
import { BUSYBOX } from './realnode/packages.ts';
import { findExecutable, runCommand } from './realnode/system.ts';

/** The repository the built image is tagged in; the tag is the content key. */
export const IMAGE_REPOSITORY = 'localhost/kube-offload';

/** Bump when how the bases or the image are made changes, so cached ones are rebuilt. */
const RECIPE = 1;

/** What the Dockerfile copies from the build context (.dockerignore keeps the rest out). */
const CONTEXT_FILES = ['Dockerfile', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];
const CONTEXT_DIRS = ['src', 'webhooks', 'bin'];

/** Where the build base's npm finds its cache (a copy of the host's, mounted for each RUN). */
const NPM_CACHE_MOUNT = '/npm-cache';

const BUILD_TIMEOUT_MS = 10 * 60_000;

/**
 * Where buildah writes whatever --root says: containers/image's blob info cache (a root-owned
 * process always uses /var/lib/containers/cache). Those of them that a build created are removed
 * after it, deepest first.
 */
export const BUILDAH_HOST_PATHS = ['/var/lib/containers/cache', '/var/lib/containers'];

export interface BuiltImage {
  /** The image's name, e.g. localhost/kube-offload:0123456789ab. */
  name: string;
  /** The OCI archive holding it under that name. */
  archive: string;
}

export interface ImageBuildOptions {
  /** Where the bases, buildah's storage and the archives are kept. */
  cacheDir: string;
  /** The build context (default: the repository root). */
  contextDir?: string;
  log?: (line: string) => void;
}

interface Inputs {
  node: string;
  npmDir: string;
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every file under `dir`, sorted, relative to `root`. */
function filesUnder(root: string, dir: string): string[] {
  const full = path.join(root, dir);
  if (!fs.existsSync(full)) return [];
  return fs
    .readdirSync(full, { recursive: true, encoding: 'utf8' })
    .map((rel) => path.join(dir, rel))
    .filter((rel) => fs.statSync(path.join(root, rel)).isFile())
    .sort();
}

function contextKey(contextDir: string, basesKey: string): string {
  const hash = createHash('sha256').update(`${RECIPE}:${basesKey}`);
  for (const rel of [...CONTEXT_FILES, ...CONTEXT_DIRS.flatMap((dir) => filesUnder(contextDir, dir))]) {
    hash.update(`\0${rel}\0`).update(fs.readFileSync(path.join(contextDir, rel)));
  }
  return hash.digest('hex').slice(0, 12);
}

function basesKey(inputs: Inputs): string {
  const npmVersion = JSON.parse(fs.readFileSync(path.join(inputs.npmDir, 'package.json'), 'utf8')).version as string;
  const digests = [inputs.node, BUSYBOX].map((file) => sha256(fs.readFileSync(file)));
  return sha256(`${RECIPE}:${digests.join(':')}:npm ${npmVersion}`).slice(0, 12);
}

/** The Node.js 24 binary of the `node` devDependency and the host's npm installation. */
function findInputs(): Inputs {
  const node = path.join(repoRoot(), 'node_modules/node/bin/node');
  if (!fs.existsSync(node)) throw new Error(`${node} is missing: run npm ci (the "node" devDependency provides it)`);
  const npm = findExecutable('npm');
  const npmDir = npm ? path.resolve(path.dirname(fs.realpathSync(npm)), '..') : '';
  if (!npmDir || !fs.existsSync(path.join(npmDir, 'bin/npm-cli.js'))) {
    throw new Error(`cannot find npm's installation (npm on PATH: ${npm ?? 'none'})`);
  }
  return { node, npmDir };
}

class Buildah {
  readonly #base: string[];
  constructor(storageDir: string, runRoot: string) {
    const exe = findExecutable('buildah');
    if (!exe)
      throw new Error('buildah is missing: apt-get install buildah (the image is built without a Docker daemon)');
    this.#base = [exe, '--root', storageDir, '--runroot', runRoot, '--storage-driver', 'overlay'];
  }
  async run(args: string[], timeoutMs = 120_000): Promise<string> {
    return (await runCommand([...this.#base, ...args], { timeoutMs })).stdout.trim();
  }
  async exists(image: string): Promise<boolean> {
    const res = await runCommand([...this.#base, 'inspect', '--type', 'image', image], { allowFailure: true });
    return res.code === 0;
  }
  /** A scratch image holding `rootfs` at /, configured with `config` (buildah config flags). */
  async commitRootfs(rootfs: string, config: string[], image: string): Promise<void> {
    const container = await this.run(['from', 'scratch']);
    try {
      await this.run(['copy', container, `${rootfs}/`, '/']);
      await this.run(['config', ...config, container]);
      await this.run(['commit', '--quiet', container, image]);
    } finally {
      await this.run(['rm', container]);
    }
  }
  /** Removes the images of `repositories` tagged other than `keep` (bases of an earlier node, npm or busybox). */
  async removeOtherTags(repositories: string[], keep: string): Promise<void> {
    const listed = await this.run(['images', '--format', '{{.Name}}:{{.Tag}}']);
    for (const image of listed.split('\n').filter(Boolean)) {
      const colon = image.lastIndexOf(':');
      if (repositories.includes(image.slice(0, colon)) && image.slice(colon + 1) !== keep)
        await this.run(['rmi', image]);
    }
  }
  /** Removes every working container and mount of this storage (the build leaves none when it succeeds). */
  async cleanUp(): Promise<void> {
    await runCommand([...this.#base, 'umount', '--all'], { allowFailure: true });
    await runCommand([...this.#base, 'rm', '--all'], { allowFailure: true });
  }
}

/** The binary's shared libraries (ldd), copied to the same paths under `rootfs`. */
async function copyLibraries(binary: string, rootfs: string): Promise<void> {
  const { stdout } = await runCommand(['ldd', binary]);
  const libs = stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .map((fields) => (fields[1] === '=>' ? fields[2] : fields[0]))
    .filter((lib): lib is string => !!lib && lib.startsWith('/'));
  for (const lib of libs) {
    fs.mkdirSync(path.join(rootfs, path.dirname(lib)), { recursive: true });
    fs.copyFileSync(lib, path.join(rootfs, lib)); // follows the soname link
  }
}

function writeUsers(rootfs: string, users: string, groups: string): void {
  fs.mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(rootfs, 'etc/passwd'), users);
  fs.writeFileSync(path.join(rootfs, 'etc/group'), groups);
  fs.mkdirSync(path.join(rootfs, 'tmp'), { mode: 0o1777 });
  fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
}

/** node:24-bookworm-slim as the Dockerfile's build stages use it: node, npm, a shell. */
async function buildBaseRootfs(rootfs: string, inputs: Inputs): Promise<void> {
  await copyLibraries(inputs.node, rootfs);
  for (const dir of ['bin', 'usr/bin', 'usr/local/bin', 'usr/local/lib', 'root']) {
    fs.mkdirSync(path.join(rootfs, dir), { recursive: true });
  }
  fs.copyFileSync(inputs.node, path.join(rootfs, 'usr/local/bin/node'));
  fs.cpSync(inputs.npmDir, path.join(rootfs, 'usr/local/lib/node_modules/npm'), { recursive: true });
  fs.symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(rootfs, 'usr/local/bin/npm'));
  fs.copyFileSync(BUSYBOX, path.join(rootfs, 'bin/busybox'));
  const { stdout } = await runCommand([BUSYBOX, '--list']);
  for (const applet of stdout.split('\n').filter((name) => name && name !== 'busybox' && !name.includes('/'))) {
    fs.symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  }
  fs.symlinkSync('/bin/env', path.join(rootfs, 'usr/bin/env')); // npm-cli.js: #!/usr/bin/env node
  writeUsers(rootfs, 'root:x:0:0:root:/root:/bin/sh\n', 'root:x:0:\n');
}

/** distroless nodejs24-debian12:nonroot's layout: /nodejs/bin/node, user 65532, nothing else. */
async function runtimeBaseRootfs(rootfs: string, inputs: Inputs): Promise<void> {
  await copyLibraries(inputs.node, rootfs);
  fs.mkdirSync(path.join(rootfs, 'nodejs/bin'), { recursive: true });
  fs.copyFileSync(inputs.node, path.join(rootfs, 'nodejs/bin/node'));
  fs.mkdirSync(path.join(rootfs, 'home/nonroot'), { recursive: true });
  fs.chownSync(path.join(rootfs, 'home/nonroot'), 65532, 65532);
  writeUsers(
    rootfs,
    'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n',
    'root:x:0:\nnonroot:x:65532:\n',
  );
}

interface Bases {
  build: string;
  runtime: string;
}

/** Both stand-in bases, committed into buildah's storage unless already there. */
const BASE_REPOSITORIES = {
  build: 'localhost/kube-offload-build-base',
  runtime: 'localhost/kube-offload-runtime-base',
};

async function ensureBases(buildah: Buildah, inputs: Inputs, key: string, work: string): Promise<Bases> {
  await buildah.removeOtherTags(Object.values(BASE_REPOSITORIES), key);
  const bases = { build: `${BASE_REPOSITORIES.build}:${key}`, runtime: `${BASE_REPOSITORIES.runtime}:${key}` };
  if (!(await buildah.exists(bases.build))) {
    const rootfs = path.join(work, 'build-base');
    await buildBaseRootfs(rootfs, inputs);
    const env = ['PATH=/usr/local/bin:/usr/bin:/bin', 'npm_config_offline=true', `npm_config_cache=${NPM_CACHE_MOUNT}`];
    await buildah.commitRootfs(rootfs, [...env.flatMap((pair) => ['--env', pair]), '--cmd', 'node'], bases.build);
  }
  if (!(await buildah.exists(bases.runtime))) {
    const rootfs = path.join(work, 'runtime-base');
    await runtimeBaseRootfs(rootfs, inputs);
    const config = ['--user', '65532:65532', '--workingdir', '/home/nonroot', '--entrypoint', '["/nodejs/bin/node"]'];
    await buildah.commitRootfs(rootfs, config, bases.runtime);
  }
  return bases;
}

/**
 * A private copy of the host's npm cache for the build to read. Never the cache itself: the
 * Dockerfile's `npm cache clean --force` would empty it.
 */
async function npmCacheCopy(work: string): Promise<string> {
  const { stdout } = await runCommand(['npm', 'config', 'get', 'cache']);
  const hostCache = path.join(stdout.trim(), '_cacache');
  const copy = path.join(work, 'npm-cache');
  fs.mkdirSync(copy);
  if (fs.existsSync(hostCache)) await runCommand(['cp', '-a', hostCache, copy]);
  return copy;
}

async function buildAndPush(buildah: Buildah, bases: Bases, opts: BuildSettings): Promise<void> {
  const npmCache = await npmCacheCopy(opts.work);
  await buildah.run(
    [
      'bud',
      '--isolation=chroot',
      '--pull=never',
      '--layers=false',
      `--volume=${npmCache}:${NPM_CACHE_MOUNT}`,
      `--build-arg=NODE_IMAGE=${bases.build}`,
      `--build-arg=RUNTIME_IMAGE=${bases.runtime}`,
      `--tag=${opts.name}`,
      `--file=${path.join(opts.contextDir, 'Dockerfile')}`,
      opts.contextDir,
    ],
    BUILD_TIMEOUT_MS,
  );
  const partial = `${opts.archive}.${process.pid}.tmp`;
  try {
    await buildah.run(['push', '--quiet', opts.name, `oci-archive:${partial}:${opts.name}`]);
    fs.renameSync(partial, opts.archive);
  } finally {
    fs.rmSync(partial, { force: true });
    // The archive is what is kept; the image and the build stages' images would only grow the storage.
    await buildah.run(['rmi', opts.name]).catch(() => {});
    await buildah.run(['rmi', '--prune']).catch(() => {});
  }
}

interface BuildSettings {
  name: string;
  archive: string;
  contextDir: string;
  work: string;
}

/** Archives of earlier contents: only the newest is kept. */
function removeOtherArchives(cacheDir: string, keep: string): void {
  for (const file of fs.readdirSync(cacheDir)) {
    if (/^kube-offload-image-.*\.tar$/.test(file) && path.join(cacheDir, file) !== keep) {
      fs.rmSync(path.join(cacheDir, file), { force: true });
    }
  }
}

/**
 * The image built from the Dockerfile in `contextDir`, as an OCI archive: built when this content
 * has no archive yet (about 20 s with the bases cached, 5 s more without), else reused.
 */
export async function ensureKubeOffloadImage(opts: ImageBuildOptions): Promise<BuiltImage> {
  const log = opts.log ?? (() => {});
  const contextDir = path.resolve(opts.contextDir ?? repoRoot());
  const inputs = findInputs();
  const baseKey = basesKey(inputs);
  const key = contextKey(contextDir, baseKey);
  const name = `${IMAGE_REPOSITORY}:${key}`;
  const archive = path.join(opts.cacheDir, `kube-offload-image-${key}.tar`);
  if (fs.existsSync(archive)) return { name, archive };
  fs.mkdirSync(opts.cacheDir, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-offload-image-build-'));
  const buildah = new Buildah(path.join(opts.cacheDir, 'buildah-storage'), path.join(work, 'runroot'));
  const created = BUILDAH_HOST_PATHS.filter((hostPath) => !fs.existsSync(hostPath));
  try {
    const startedAt = Date.now();
    const bases = await ensureBases(buildah, inputs, baseKey, work);
    await buildAndPush(buildah, bases, { name, archive, contextDir, work });
    log(`built ${name} from ${path.join(contextDir, 'Dockerfile')} in ${Date.now() - startedAt} ms`);
  } finally {
    await buildah.cleanUp();
    fs.rmSync(work, { recursive: true, force: true, maxRetries: 5 });
    for (const hostPath of created) fs.rmSync(hostPath, { recursive: true, force: true });
  }
  removeOtherArchives(opts.cacheDir, archive);
  return { name, archive };
}
