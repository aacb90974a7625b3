// Mocha's spec reporter plus one plain closing line, "N passed, N failed", that CI reads.
'use strict';
const Mocha = require('mocha');

class SpecWithSummary extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const { passes, failures, pending } = this.stats;
      const skipped = pending ? `, ${pending} skipped` : '';
      // Printed after the spec epilogue so it is the run's last line.
      setImmediate(() => console.log(`\nmocha: ${passes} passed, ${failures} failed${skipped}`));
    });
  }
}

module.exports = SpecWithSummary;
