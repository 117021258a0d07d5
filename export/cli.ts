#!/usr/bin/env node
// The `emseg-export` bin (the mission's `npx emseg-export`); `emseg export` runs the same command.
import { exportCommand } from './command.ts';

process.exitCode = await exportCommand(process.argv.slice(2));
