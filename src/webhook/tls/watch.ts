// Notices when tls.crt/tls.key change. A Secret mounted by the kubelet is a set of symlinks
// (tls.crt -> ..data/tls.crt, ..data -> ..2024_01_01_xx) and an update swaps the ..data link:
// watching the files themselves would keep watching the old inodes, so we watch the DIRECTORY,
// and, because fs.watch can miss events (some filesystems, inotify limits), also poll stat()
// of the files (stat follows the symlinks) on an interval.
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface DirWatcher {
  close(): void;
}

export interface WatchOptions {
  dir: string;
  files: string[];
  pollIntervalMs: number;
  /** Called (debounced) when something may have changed. */
  onChange: () => void;
  /** Whether the last onChange left things unresolved, e.g. a half-written pair: retry on poll. */
  wantsRetry: () => boolean;
  onWatchError: (error: Error) => void;
}

const DEBOUNCE_MS = 50;

async function signature(dir: string, files: string[]): Promise<string> {
  const parts = await Promise.all(
    files.map(async (name) => {
      try {
        const info = await stat(join(dir, name));
        return `${info.ino}:${info.size}:${info.mtimeMs}`;
      } catch {
        return 'missing';
      }
    }),
  );
  return parts.join('|');
}

export function watchCertDir(options: WatchOptions): DirWatcher {
  let closed = false;
  let debounce: NodeJS.Timeout | undefined;
  let last: string | undefined;
  const fire = (): void => {
    if (closed || debounce) return;
    // A Secret update renames several entries in a burst; react once, after it settles.
    debounce = setTimeout(() => {
      debounce = undefined;
      if (!closed) options.onChange();
    }, DEBOUNCE_MS);
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(options.dir, { persistent: false }, fire);
    watcher.on('error', (error) => options.onWatchError(error));
  } catch (error) {
    options.onWatchError(error as Error);
  }

  void signature(options.dir, options.files).then((value) => (last ??= value));
  const poll = setInterval(() => {
    void signature(options.dir, options.files).then((value) => {
      const changed = last !== undefined && value !== last;
      last = value;
      if (changed || options.wantsRetry()) fire();
    });
  }, options.pollIntervalMs);
  poll.unref();

  return {
    close() {
      closed = true;
      clearInterval(poll);
      if (debounce) clearTimeout(debounce);
      watcher?.close();
    },
  };
}
