// Bundle the editor for the app: one ES module the page imports from the app itself (never a CDN).
// Output: ../studio/app/static/build/editor.js (a generated file, git-ignored; setup.sh builds it).
import {build} from 'esbuild';
import {fileURLToPath} from 'node:url';

const out = fileURLToPath(new URL('../studio/app/static/build/editor.js', import.meta.url));
await build({
  entryPoints: [fileURLToPath(new URL('./src/editor.js', import.meta.url))],
  bundle: true,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  minify: true,
  legalComments: 'eof',
  loader: {'.css': 'text'},
  outfile: out,
  logLevel: 'warning',
});
console.log('built ' + out);
