#!/usr/bin/env node
// Entry point of the `cudnn-resnet` executable.
import { main } from './cli.js';

await main(process.argv);
