// A writer thread runs the same .ts sources as the server (no build step). tsx's CommonJS
// loader transpiles in this thread; its ESM register() would start a second loader thread per
// worker and cost ~0.5 s of start-up. Which writer runs is the starter's choice (workerData.module).
import { workerData } from 'node:worker_threads';
import { require as tsxRequire } from 'tsx/cjs/api';

tsxRequire(workerData.module, import.meta.url);
