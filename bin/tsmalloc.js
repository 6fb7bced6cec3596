#!/usr/bin/env node
// Entry shim: runs the compiled CLI in dist/ (built by `npm install` through the prepare script).
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv);
