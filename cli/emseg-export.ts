#!/usr/bin/env node
// The `emseg-export` bin (the mission's `npx emseg-export`); `emseg export` runs the same command.
// It lives in cli/ because --int8 calibrates with the Node SDK, which export/ does not import.
import { exportCommand } from '../export/command.ts';
import { calibrateOn } from './calibrate-on.ts';

process.exitCode = await exportCommand(process.argv.slice(2), 'emseg-export', calibrateOn);
