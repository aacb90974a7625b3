import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { negotiateProtocol } from '../../../src/kubelet/http/negotiate.ts';
import { matchRoute, parseExecOptions, parseLogQuery, parseStreamOptions } from '../../../src/kubelet/http/routes.ts';
import { forwardResizes } from '../../../src/kubelet/remotecommand/relay.ts';
import {
  exitCodeOf,
  exitCodeStatus,
  statusForProtocol,
  successStatus,
} from '../../../src/kubelet/remotecommand/status.ts';
import { certificateCovers, loadOrCreateServingCert } from '../../../src/kubelet/tls.ts';
import { WsChannels } from '../../../src/kubelet/websocket/channels.ts';

describe('kubelet API parts', () => {
  describe('routes', () => {
    it('matches the kubelet paths, with and without a pod uid', () => {
      expect(matchRoute('/containerLogs/ns/p/c')).to.deep.equal({
        kind: 'containerLogs',
        namespace: 'ns',
        pod: 'p',
        container: 'c',
      });
      expect(matchRoute('/exec/ns/p/c')).to.deep.equal({ kind: 'exec', namespace: 'ns', pod: 'p', container: 'c' });
      expect(matchRoute('/exec/ns/p/uid-1/c')).to.deep.equal({
        kind: 'exec',
        namespace: 'ns',
        pod: 'p',
        container: 'c',
      });
      expect(matchRoute('/attach/ns/p/c')).to.deep.include({ kind: 'attach', container: 'c' });
      expect(matchRoute('/portForward/ns/p')).to.deep.equal({ kind: 'portForward', namespace: 'ns', pod: 'p' });
      expect(matchRoute('/portForward/ns/p/uid')).to.deep.equal({ kind: 'portForward', namespace: 'ns', pod: 'p' });
      expect(matchRoute('/healthz').kind).to.equal('healthz');
      expect(matchRoute('/stats/summary/').kind).to.equal('statsSummary');
      for (const bad of ['/exec/ns/p', '/containerLogs/ns//c', '/portForward/ns', '/exec/ns/p/%zz', '/foo']) {
        expect(matchRoute(bad).kind, bad).to.equal('notFound');
      }
    });

    it('stream options as the kubelet reads them', () => {
      expect(parseStreamOptions(new URLSearchParams('input=1&output=1&error=1'))).to.deep.equal({
        stdin: true,
        stdout: true,
        stderr: true,
        tty: false,
      });
      expect(parseStreamOptions(new URLSearchParams('output=1&error=1&tty=1'))).to.deep.equal({
        stdin: false,
        stdout: true,
        stderr: false,
        tty: true,
      });
      expect(parseStreamOptions(new URLSearchParams('tty=1'))).to.be.a('string');
      expect(parseExecOptions(new URLSearchParams('output=1'))).to.equal('missing command');
      expect(parseExecOptions(new URLSearchParams('output=true&command=a&command=b c'))).to.deep.include({
        command: ['a', 'b c'],
      });
    });

    it('log options: validated, legacy tail, since* exclusive', () => {
      expect(
        parseLogQuery(new URLSearchParams('follow=true&tailLines=10&timestamps=1&limitBytes=5&previous=false')),
      ).to.deep.equal({
        follow: true,
        previous: false,
        timestamps: true,
        tailLines: 10,
        limitBytes: 5,
      });
      expect(parseLogQuery(new URLSearchParams('tail=3'))).to.deep.equal({ tailLines: 3 });
      expect(parseLogQuery(new URLSearchParams('tail=all'))).to.deep.equal({});
      expect(parseLogQuery(new URLSearchParams('sinceTime=2026-01-02T03:04:05.5Z&stream=Stderr'))).to.deep.equal({
        sinceTime: '2026-01-02T03:04:05.5Z',
        stream: 'Stderr',
      });
      for (const bad of [
        'tailLines=x',
        'sinceSeconds=0',
        'limitBytes=0',
        'sinceTime=yesterday',
        'follow=maybe',
        'stream=both',
        'sinceSeconds=1&sinceTime=2026-01-02T03:04:05Z',
      ]) {
        expect(parseLogQuery(new URLSearchParams(bad)), bad).to.be.a('string');
      }
    });

    it("protocol negotiation: the client's order wins; 400 without, 403 with none in common", () => {
      expect(
        negotiateProtocol('v4.channel.k8s.io, v5.channel.k8s.io', ['v5.channel.k8s.io', 'v4.channel.k8s.io']),
      ).to.deep.equal({ ok: true, protocol: 'v4.channel.k8s.io' });
      expect(negotiateProtocol(['a', 'v5.channel.k8s.io'], ['v5.channel.k8s.io'])).to.deep.equal({
        ok: true,
        protocol: 'v5.channel.k8s.io',
      });
      expect(negotiateProtocol(undefined, ['x'])).to.deep.include({ ok: false, statusCode: 400 });
      expect(negotiateProtocol('y', ['x'])).to.deep.include({ ok: false, statusCode: 403 });
    });
  });

  describe('status', () => {
    it("exit codes survive v4/v5 verbatim; v1-v3 get a failure's message only", () => {
      expect(exitCodeOf(exitCodeStatus(42))).to.equal(42);
      expect(exitCodeOf(successStatus())).to.equal(0);
      expect(statusForProtocol(exitCodeStatus(2), 5).equals(exitCodeStatus(2))).to.equal(true);
      expect(statusForProtocol(successStatus(), 3).length).to.equal(0);
      expect(statusForProtocol(exitCodeStatus(2), 2).toString()).to.equal(
        'command terminated with non-zero exit code: exit status 2',
      );
    });
  });

  describe('resize stream', () => {
    it('parses concatenated JSON sizes split anywhere', async () => {
      const sizes: unknown[] = [];
      const stream = new PassThrough();
      forwardResizes(stream, (s) => sizes.push(s));
      stream.write('{"Width":80,"Hei');
      stream.write('ght":24}{"Width":1');
      stream.write('00,"Height":40}{"bogus":true}');
      await new Promise((r) => setImmediate(r));
      expect(sizes).to.deep.equal([
        { width: 80, height: 24 },
        { width: 100, height: 40 },
      ]);
    });
  });

  describe('WebSocket channels', () => {
    it('close() drops the socket when the peer never answers the closing handshake', async () => {
      const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
      await once(server, 'listening');
      // The peer stops reading: it will never see, let alone answer, our close frame.
      server.on('connection', (peer: WebSocket & { _socket: { pause(): void } }) => peer._socket.pause());
      const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
      await once(ws, 'open');
      const channels = new WsChannels(ws, { closeSignal: false });
      const started = Date.now();
      channels.close(1000, 200);
      await channels.closed;
      expect(Date.now() - started).to.be.lessThan(5000);
      for (const client of server.clients) client.terminate();
      server.close();
    });
  });

  describe('serving certificate', () => {
    it('is kept in its directory and made again when the node address changes', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubelet-tls-'));
      try {
        const first = await loadOrCreateServingCert(dir, ['10.0.0.1']);
        expect(certificateCovers(first.cert, ['10.0.0.1'])).to.equal(true);
        expect(fs.statSync(path.join(dir, 'kubelet.key')).mode & 0o777).to.equal(0o600);
        const again = await loadOrCreateServingCert(dir, ['10.0.0.1']);
        expect(again.cert).to.equal(first.cert);
        expect(again.ca).to.equal(first.ca);
        const moved = await loadOrCreateServingCert(dir, ['10.0.0.2']);
        expect(moved.cert).to.not.equal(first.cert);
        expect(certificateCovers(moved.cert, ['10.0.0.2'])).to.equal(true);
        expect(certificateCovers(moved.cert, ['10.0.0.1'])).to.equal(false);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
