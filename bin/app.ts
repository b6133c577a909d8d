#!/usr/bin/env node
import { createApp } from '../lib/app';
import { StageConfigError } from '../lib/config';

try {
  createApp();
} catch (error) {
  if (error instanceof StageConfigError) {
    // The message already names stage, field, value and fix; a stack trace would only bury it.
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
