// The one way the page checks start Chromium: headless, the installed browser (CHROMIUM, or Debian's), and
// nothing that would reach the internet on its own (updates, sync, field trials).
import { chromium } from 'playwright-core';

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}
