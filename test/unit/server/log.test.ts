// The admission line writer must produce what pino itself would, only cheaper.
import { expect } from 'chai';
import { createLineWriter, createLogger } from '../../../src/log.ts';
import { LogCapture, waitFor } from './helpers.ts';

describe('admission log lines', function () {
  it('match pino\'s own output for the same fields, and respect the level', async function () {
    const capture = new LogCapture();
    const logger = createLogger('info', capture).child({ webhook: 'mutate-pods' });
    const fields = { uid: 'u-1', kind: 'Pod', namespace: 'demo', name: 'web "1"\n', operation: 'CREATE', decision: 'patched', durationSeconds: 0.000123 };
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
});
