// The images real pods run, built here without a registry or a container tool: one layer holding
// busybox-static (with a link per applet) and the demo shop's server, written as an OCI image
// layout in a tar archive that `ctr images import` reads. The same layer serves two images: the
// shop (entrypoint /bin/shop; busybox's sh, wget and nslookup for exec) and the pod sandbox's
// pause image (sleep forever). The archive is cached next to the binaries, keyed by its inputs.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUSYBOX } from './packages.ts';
import { runCommand } from './system.ts';

/** The demo shop's image (demo/shop manifests use it with imagePullPolicy: IfNotPresent). */
export const SHOP_IMAGE = 'localhost/kube-offload/shop:1';
/** The pod sandbox image of the real nodes' containerd. */
export const PAUSE_IMAGE = 'localhost/kube-offload/pause:1';

/** Bump when what goes into the archive changes, so cached archives are rebuilt. */
const IMAGE_RECIPE = 1;

interface Blob {
  digest: string;
  size: number;
  mediaType: string;
}

interface ImageSpec {
  name: string;
  entrypoint: string[];
  cmd: string[];
}

const IMAGES: ImageSpec[] = [
  { name: SHOP_IMAGE, entrypoint: ['/bin/shop'], cmd: [] },
  { name: PAUSE_IMAGE, entrypoint: ['/bin/sleep'], cmd: ['2147483647'] },
];

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function fileDigest(file: string): string {
  return sha256(fs.readFileSync(file));
}

async function busyboxApplets(): Promise<string[]> {
  const { stdout } = await runCommand([BUSYBOX, '--list']);
  return stdout.split('\n').filter((applet) => applet && applet !== 'busybox' && !applet.includes('/'));
}

/** The image's root filesystem: /bin (busybox, its applets, shop), /etc (users), /tmp, mount points. */
async function writeRootfs(rootfs: string, shopBinary: string): Promise<void> {
  for (const dir of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'var/run']) {
    fs.mkdirSync(path.join(rootfs, dir), { recursive: true });
  }
  fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
  fs.copyFileSync(BUSYBOX, path.join(rootfs, 'bin/busybox'));
  fs.copyFileSync(shopBinary, path.join(rootfs, 'bin/shop'));
  fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  fs.chmodSync(path.join(rootfs, 'bin/shop'), 0o755);
  for (const applet of await busyboxApplets()) fs.symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  fs.writeFileSync(
    path.join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n',
  );
  fs.writeFileSync(path.join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
}

/** A reproducible tar of the rootfs: sorted, owned by root, dated at the epoch. */
async function writeLayer(rootfs: string, layerFile: string): Promise<void> {
  const entries = fs.readdirSync(rootfs).sort();
  const flags = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=gnu'];
  await runCommand(['tar', ...flags, '-C', rootfs, '-cf', layerFile, ...entries]);
}

function writeBlob(layout: string, data: Buffer, mediaType: string): Blob {
  const digest = sha256(data);
  fs.writeFileSync(path.join(layout, 'blobs/sha256', digest), data);
  return { digest: `sha256:${digest}`, size: data.length, mediaType };
}

function imageConfig(spec: ImageSpec, layer: Blob): Buffer {
  const config = {
    architecture: 'amd64',
    os: 'linux',
    created: '1970-01-01T00:00:00Z',
    config: { Entrypoint: spec.entrypoint, Cmd: spec.cmd, Env: ['PATH=/bin'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: 'kube-offload sandbox (src/sandbox/realnode/images.ts)' }],
  };
  return Buffer.from(JSON.stringify(config));
}

/** One manifest (config + the shared layer) per image, named for containerd in the index. */
function writeManifest(layout: string, spec: ImageSpec, layer: Blob): Record<string, unknown> {
  const config = writeBlob(layout, imageConfig(spec, layer), 'application/vnd.oci.image.config.v1+json');
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config,
    layers: [layer],
  };
  const blob = writeBlob(layout, Buffer.from(JSON.stringify(manifest)), manifest.mediaType);
  const tag = spec.name.slice(spec.name.lastIndexOf(':') + 1);
  return {
    ...blob,
    platform: { architecture: 'amd64', os: 'linux' },
    annotations: { 'io.containerd.image.name': spec.name, 'org.opencontainers.image.ref.name': tag },
  };
}

async function buildArchive(shopBinary: string, archive: string): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-offload-image-'));
  try {
    const rootfs = path.join(work, 'rootfs');
    const layout = path.join(work, 'layout');
    fs.mkdirSync(path.join(layout, 'blobs/sha256'), { recursive: true });
    await writeRootfs(rootfs, shopBinary);
    await writeLayer(rootfs, path.join(work, 'layer.tar'));
    const layerData = fs.readFileSync(path.join(work, 'layer.tar'));
    const layer = writeBlob(layout, layerData, 'application/vnd.oci.image.layer.v1.tar');
    const manifests = IMAGES.map((spec) => writeManifest(layout, spec, layer));
    fs.writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
    const partial = `${archive}.${process.pid}.tmp`;
    await runCommand(['tar', '--sort=name', '--owner=0', '--group=0', '-C', layout, '-cf', partial, '.']);
    fs.renameSync(partial, archive);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The archive holding SHOP_IMAGE and PAUSE_IMAGE for this busybox and shop binary: built into
 * `cacheDir` when missing (a second or so), else reused.
 */
export async function ensureImageArchive(shopBinary: string, cacheDir: string): Promise<string> {
  const key = sha256(Buffer.from(`${IMAGE_RECIPE}:${fileDigest(BUSYBOX)}:${fileDigest(shopBinary)}`)).slice(0, 12);
  const archive = path.join(cacheDir, `real-node-images-${key}.tar`);
  if (fs.existsSync(archive)) return archive;
  fs.mkdirSync(cacheDir, { recursive: true });
  await buildArchive(shopBinary, archive);
  return archive;
}
