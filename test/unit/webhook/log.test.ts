// The admission line writer must produce what pino itself would, only cheaper.
import { expect } from 'chai';
import { createLineWriter, createLogger } from '../../../src/common/log.ts';
import { LogCapture, waitFor } from './helpers.ts';

describe('admission log lines', function () {
  it("match pino's own output for the same fields, and respect the level", async function () {
    const capture = new LogCapture();
    const logger = createLogger('info', capture).child({ webhook: 'mutate-pods' });
    const fields = {
      uid: 'u-1',
      kind: 'Pod',
      namespace: 'demo',
      name: 'web "1"\n',
      operation: 'CREATE',
      decision: 'patched',
      durationSeconds: 0.000123,
    };
    logger.info(fields, 'admission');
    createLineWriter(logger, 'admission')({ ...fields, skipped: undefined });
    await waitFor(() => capture.lines.length === 2, 'two lines');
    const [viaPino, viaWriter] = capture.lines.map(({ time, ...rest }) => {
      expect(time).to.be.a('number');
      return rest;
    });
    expect(viaWriter).to.deep.equal(viaPino);
    expect(Object.keys(viaWriter ?? {})).to.deep.equal(Object.keys(viaPino ?? {}));

    const quiet = new LogCapture();
    createLineWriter(createLogger('warn', quiet), 'admission')(fields);
    await new Promise((resolve) => setImmediate(resolve));
    expect(quiet.lines).to.deep.equal([]);
  });

  it('write debug lines like logger.debug, and none at the default info level', async function () {
    const capture = new LogCapture();
    const logger = createLogger('debug', capture).child({ webhook: 'validate' });
    const fields = { uid: 'u-2', decision: 'allowed', durationSeconds: 0.0002 };
    logger.debug(fields, 'admission');
    createLineWriter(logger, 'admission', 'debug')(fields);
    await waitFor(() => capture.lines.length === 2, 'two lines');
    const [viaPino, viaWriter] = capture.lines.map(({ time: _time, ...rest }) => rest);
    expect(viaWriter).to.deep.equal(viaPino);
    expect(viaWriter).to.include({ level: 'debug' });

    const info = new LogCapture();
    createLineWriter(createLogger('info', info), 'admission', 'debug')(fields);
    await new Promise((resolve) => setImmediate(resolve));
    expect(info.lines).to.deep.equal([]);
  });
});
