#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx), so `npm start` needs no build step. This is the one
// place the server's commands and the tools' commands (`tidings load`) meet: product code never
// imports tools/.
import { register } from 'tsx/esm/api';

register();
const { buildProgram, runProgram } = await import('../server/cli/main.ts');
const { loadCommand } = await import('../tools/load/command.ts');
const program = buildProgram();
loadCommand(program);
await runProgram(program);
