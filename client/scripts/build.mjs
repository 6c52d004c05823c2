// Builds @tidings/client into dist/: tsc -b (the SDK, plus protocol's declarations into
// dist/protocol), then points dist/wire.d.ts at the bundled protocol declarations and checks that
// the output is self-contained: no runtime import of protocol, no Node built-ins, no path that
// leaves the package. Run from anywhere: `node client/scripts/build.mjs` (npm run build:client).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
rmSync(join(root, '.tsbuild'), { recursive: true, force: true });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-b', join(root, 'tsconfig.json')], { stdio: 'inherit' });

const wire = join(dist, 'wire.d.ts');
const text = readFileSync(wire, 'utf8');
if (!text.includes("'../../protocol/index.js'")) throw new Error(`${wire}: expected the import of ../../protocol/index.js`);
writeFileSync(wire, text.replace("'../../protocol/index.js'", "'./protocol/index.js'"));

const walk = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
// tsc rewrites `.ts` specifiers in the emitted JavaScript only; declarations keep them as written.
// Consumers resolve `.js` everywhere, whatever their TypeScript settings.
for (const file of walk(dist).filter((f) => f.endsWith('.d.ts'))) {
  const source = readFileSync(file, 'utf8');
  const fixed = source.replace(/(from\s+|import\s*\(\s*)(['"])(\.{1,2}\/[^'"]+)\.ts\2/g, '$1$2$3.js$2');
  if (fixed !== source) writeFileSync(file, fixed);
}

const problems = [];
for (const file of walk(dist)) {
  if (!/\.(js|d\.ts)$/.test(file)) continue;
  const source = readFileSync(file, 'utf8');
  for (const [, specifier] of source.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
    if (/^\.{1,2}\/.*\.ts$/.test(specifier)) problems.push(`${file}: imports ${specifier} (a .ts specifier)`);
    if (specifier.startsWith('../')) problems.push(`${file}: imports ${specifier} (outside the package)`);
    if (file.endsWith('.js') && !specifier.startsWith('./')) problems.push(`${file}: runtime import of ${specifier} (the SDK has no runtime dependencies)`);
  }
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
