#!/usr/bin/env node
// The riglab CLI. Runs the compiled code in dist/ (built by `npm run up` or `npm run build`).
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const entry = join(__dirname, '..', '..', 'dist', 'api', 'src', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write('riglab: not built yet: run `npm run build` (or `npm run up`) in the riglab folder first\n');
  process.exit(1);
}
require(entry)
  .run(process.argv.slice(2))
  .then((code) => process.exit(code));
