// The apiserver as the real nodes and their pods reach it. It listens on the host's 127.0.0.1,
// which no other network namespace can reach, so a relay (socat) listens on the host's wan leg,
// on the apiserver's port, and forwards there. The apiserver advertises that address
// (realNodeApiserverArgs), so the `kubernetes` Service leads pods to the relay too.
import net from 'node:net';
import path from 'node:path';
import { WAN } from './plan.ts';
import { waitFor, type RealNodeProcesses } from './processes.ts';
import { executable } from './system.ts';

const READY_TIMEOUT_MS = 10_000;

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 1000 }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export async function startApiserverRelay(
  cluster: string,
  apiserverPort: number,
  logDir: string,
  processes: RealNodeProcesses,
): Promise<void> {
  const managed = await processes.launch({
    name: `${cluster}/apiserver-relay`,
    argv: [
      executable('socat'),
      `TCP-LISTEN:${apiserverPort},bind=${WAN.hostIP},fork,reuseaddr`,
      `TCP:127.0.0.1:${apiserverPort}`,
    ],
    logDir: path.join(logDir),
  });
  await waitFor(managed, () => accepts(WAN.hostIP, apiserverPort), 'listening', READY_TIMEOUT_MS);
}
