import assert from 'node:assert/strict';
import { expect } from 'chai';
import fc from 'fast-check';
import {
  ControlType,
  FrameSplitter,
  RstStatus,
  SpdyProtocolError,
  decodeFrame,
  decodeHeaderBlock,
  encodeData,
  encodeGoAway,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeStreamHeaders,
  encodeSynStream,
  encodeWindowUpdate,
} from '../../../src/kubelet/spdy/frames.ts';
import type { Frame } from '../../../src/kubelet/spdy/frames.ts';
import { HeaderZlib } from '../../../src/kubelet/spdy/header-zlib.ts';

function decodeAll(bytes: Buffer, cuts: number[] = []): Frame[] {
  const splitter = new FrameSplitter();
  const frames: Frame[] = [];
  let from = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]) {
    splitter.push(bytes.subarray(from, cut));
    from = cut;
    for (let raw = splitter.next(); raw; raw = splitter.next()) frames.push(decodeFrame(raw));
  }
  expect(splitter.bufferedBytes).to.equal(0);
  return frames;
}

describe('kubelet SPDY frames', () => {
  it('round-trips DATA, RST_STREAM, PING and GOAWAY', () => {
    const bytes = Buffer.concat([
      encodeData(1, Buffer.from('hello'), false),
      encodeData(3, Buffer.alloc(0), true),
      encodeRstStream(5, RstStatus.cancel),
      encodePing(7),
      encodeGoAway(9),
    ]);
    expect(decodeAll(bytes)).to.deep.equal([
      { kind: 'data', streamId: 1, fin: false, data: Buffer.from('hello') },
      { kind: 'data', streamId: 3, fin: true, data: Buffer.alloc(0) },
      { kind: 'rstStream', streamId: 5, status: RstStatus.cancel },
      { kind: 'ping', id: 7 },
      { kind: 'goAway', lastGoodStreamId: 9, status: 0 },
    ]);
  });

  it('writes the control bit, version 3 and the type in the first word', () => {
    const ping = encodePing(1);
    expect(ping.subarray(0, 8).toString('hex')).to.equal('8003000600000004');
    expect(encodeData(1, Buffer.from('x'), true).subarray(0, 8).toString('hex')).to.equal('0000000101000001');
  });

  it('ignores SETTINGS and WINDOW_UPDATE (no flow control)', () => {
    const bytes = Buffer.concat([encodeSettings([{ id: 7, value: 65536 }]), encodeWindowUpdate(1, 1000)]);
    expect(decodeAll(bytes)).to.deep.equal([
      { kind: 'ignored', type: ControlType.settings },
      { kind: 'ignored', type: ControlType.windowUpdate },
    ]);
  });

  it('splits frames at any chunk boundary', () => {
    const frames = [
      encodeData(1, Buffer.alloc(70_000, 1), false),
      encodePing(3),
      encodeStreamHeaders(ControlType.synReply, 1, Buffer.from('abc'), true),
      encodeSynStream(5, Buffer.from('zz'), false),
      encodeData(5, Buffer.from('tail'), true),
    ];
    const bytes = Buffer.concat(frames);
    const expected = decodeAll(bytes);
    expect(expected.map((f) => f.kind)).to.deep.equal(['data', 'ping', 'synReply', 'synStream', 'data']);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 40 }), (cuts) => {
        expect(decodeAll(bytes, cuts)).to.deep.equal(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses an oversized control frame before buffering it', () => {
    const splitter = new FrameSplitter(1024);
    const head = Buffer.from('8003000100100000', 'hex'); // SYN_STREAM claiming 1 MiB
    splitter.push(head);
    expect(() => splitter.next()).to.throw(SpdyProtocolError);
  });

  it('rejects truncated control frames', () => {
    const splitter = new FrameSplitter();
    splitter.push(Buffer.from('800300030000000200000001', 'hex')); // RST_STREAM with a 2-byte body
    const raw = splitter.next();
    expect(raw).to.not.equal(undefined);
    expect(() => decodeFrame(raw!)).to.throw(SpdyProtocolError);
  });

  describe('header blocks', () => {
    it('round-trips names (lower-cased) and NUL-joined values', () => {
      const block = encodeHeaderBlock([
        ['streamType', 'error'],
        ['X-Many', ['a', 'b', 'c']],
        ['empty', ''],
      ]);
      const headers = decodeHeaderBlock(block);
      expect([...headers]).to.deep.equal([
        ['streamtype', ['error']],
        ['x-many', ['a', 'b', 'c']],
        ['empty', ['']],
      ]);
    });

    it('rejects truncated blocks, trailing bytes and too many headers', () => {
      const block = encodeHeaderBlock([['a', 'b']]);
      expect(() => decodeHeaderBlock(block.subarray(0, block.length - 1))).to.throw(SpdyProtocolError);
      expect(() => decodeHeaderBlock(Buffer.concat([block, Buffer.from([0])]))).to.throw(SpdyProtocolError);
      expect(() => decodeHeaderBlock(block, { maxHeaders: 0, maxFieldBytes: 10 })).to.throw(/1 headers/);
      expect(() => decodeHeaderBlock(block, { maxHeaders: 10, maxFieldBytes: 0 })).to.throw(/header field/);
    });

    it('compresses many blocks with one context per direction, each decodable on arrival', async () => {
      const deflate = HeaderZlib.compressor();
      const inflate = HeaderZlib.decompressor();
      const sent: Array<Array<[string, string]>> = [];
      const compressed: Buffer[] = [];
      for (let i = 0; i < 300; i++) {
        const headers: Array<[string, string]> = [
          ['streamtype', i % 2 ? 'data' : 'error'],
          ['port', String(8000 + (i % 7))],
          ['requestid', String(i)],
        ];
        sent.push(headers);
        compressed.push(await deflate.process(encodeHeaderBlock(headers)));
      }
      // The shared context pays off: later blocks are mostly back-references.
      expect(compressed[299]!.length).to.be.lessThan(compressed[0]!.length);
      // Decompress concurrently: the context must keep the blocks in order.
      const decoded = await Promise.all(compressed.map((c) => inflate.process(c)));
      decoded.forEach((block, i) =>
        expect([...decodeHeaderBlock(block)]).to.deep.equal(sent[i]!.map(([k, v]) => [k, [v]])),
      );
      // A fresh context cannot read a later block: the state really is shared.
      const fresh = HeaderZlib.decompressor();
      await assert.rejects(fresh.process(compressed[10]!));
      deflate.close();
      inflate.close();
      fresh.close();
    });

    it('handles header blocks larger than zlib stream buffers', async () => {
      const deflate = HeaderZlib.compressor();
      const inflate = HeaderZlib.decompressor();
      const big = 'x'.repeat(200_000) + Math.random();
      for (let i = 0; i < 3; i++) {
        const out = await inflate.process(await deflate.process(encodeHeaderBlock([['big', big + i]])));
        expect(decodeHeaderBlock(out).get('big')).to.deep.equal([big + i]);
      }
      deflate.close();
      inflate.close();
    });

    it('bounds what one block may inflate to', async () => {
      const deflate = HeaderZlib.compressor();
      const inflate = HeaderZlib.decompressor(10_000);
      const bomb = await deflate.process(encodeHeaderBlock([['a', 'a'.repeat(1_000_000)]]));
      expect(bomb.length).to.be.lessThan(10_000);
      await assert.rejects(inflate.process(bomb), /inflates beyond/);
      deflate.close();
      inflate.close();
    });
  });
});
