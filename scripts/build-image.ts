// Builds the kube-offload image from the Dockerfile on a machine with neither a Docker daemon nor
// an image registry (buildah, local stand-ins for the two base images: src/sandbox/image-build.ts),
// and prints the image's name and the OCI archive that holds it:
//
//   node scripts/build-image.ts          (as root, with buildah installed)
//
// Then, for instance, `ctr -n k8s.io images import ARCHIVE` on a node, or
// `skopeo copy oci-archive:ARCHIVE docker://registry.example.com/kube-offload:0.1.0`. With the
// registries in reach, `buildah bud -t registry.example.com/kube-offload:0.1.0 .` builds the
// Dockerfile on its real base images instead. The archive is cached next to the control plane's
// binaries, keyed by the Dockerfile and every file it copies.
import path from 'node:path';
import { expectedBinDir } from '../src/sandbox/binaries.ts';
import { ensureKubeOffloadImage } from '../src/sandbox/image-build.ts';

const cacheDir = path.join(path.dirname(expectedBinDir()), 'image-build');
const image = await ensureKubeOffloadImage({ cacheDir, log: (line) => process.stderr.write(`${line}\n`) });
process.stdout.write(`${image.name}\n${image.archive}\n`);
