// Loads GraphiQL and Swagger UI from a running server in headless Chromium: GraphiQL must load the schema (no
// error in its response pane, the documentation explorer lists the query root's fields) and run the default
// catalog query; it fails when a page errors, asks anything of another origin, or shows no result.
// Usage: node check-pages.mjs http://127.0.0.1:PORT [screenshot-folder]
import { launchChromium } from './browser.mjs';

const base = process.argv[2];
const shots = process.argv[3];
if (!base) {
  console.error('usage: node check-pages.mjs BASE_URL [SCREENSHOT_DIR]');
  process.exit(2);
}

const browser = await launchChromium();
const problems = [];

async function open(path) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(base) && !url.startsWith('data:') && !url.startsWith('blob:')) problems.push(`${path}: asked ${url}`);
  });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${path}: ${r.status()} for ${r.url()}`); });
  page.on('pageerror', (e) => problems.push(`${path}: page error ${e}`));
  page.on('console', (m) => {
    // Failed loads are reported with their URL by the response handler above.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`${path}: console error ${m.text()}`);
  });
  await page.goto(base + path, { waitUntil: 'load' });
  return page;
}

try {
  const graphiql = await open('/graphiql');
  await graphiql.waitForSelector('.graphiql-execute-button', { timeout: 30000 });
  // GraphiQL introspects the schema on load; a refused introspection shows up in the response pane.
  const docsButton = graphiql.locator('button[aria-label="Show Documentation Explorer"]');
  await docsButton.click();
  const explorer = graphiql.locator('.graphiql-doc-explorer');
  await explorer.getByText('QueryRoot', { exact: true }).first().click({ timeout: 30000 });
  await graphiql.waitForFunction(
    () => (document.querySelector('.graphiql-doc-explorer')?.innerText || '').includes('movies('),
    null, { timeout: 30000 });
  const explorerText = await explorer.innerText();
  const rootFields = ['movies', 'movie', 'genres', 'certifications', 'person', 'me', 'users', 'jobs']
    .filter((field) => new RegExp(`(^|\\n)${field}[(:]`).test(explorerText));
  if (rootFields.length < 8) problems.push(`GraphiQL: the documentation explorer lists only ${rootFields.join(', ')} of QueryRoot`);
  const paneBefore = await graphiql.locator('.graphiql-response').innerText();
  if (/error|too deep|QUERY_TOO_COMPLEX/i.test(paneBefore)) problems.push(`GraphiQL: the response pane shows ${paneBefore.slice(0, 300)}`);
  if (shots) await graphiql.screenshot({ path: `${shots}/graphiql-docs.png` });
  console.log(`GraphiQL: loaded the schema; the documentation explorer lists QueryRoot's fields (${rootFields.join(', ')})`);

  await graphiql.click('.graphiql-execute-button');
  await graphiql.waitForFunction(() => document.body.innerText.includes('The Shawshank Redemption'), null, { timeout: 30000 });
  const paneAfter = await graphiql.locator('.graphiql-response').innerText();
  if (/"errors"/.test(paneAfter)) problems.push(`GraphiQL: the default query answered errors: ${paneAfter.slice(0, 300)}`);
  if (shots) await graphiql.screenshot({ path: `${shots}/graphiql.png` });
  console.log('GraphiQL: ran the default catalog query and shows movies');

  const swagger = await open('/api/docs/');
  await swagger.waitForSelector('.opblock', { timeout: 30000 });
  const text = await swagger.evaluate(() => document.body.innerText);
  if (!text.includes('/health/ready')) problems.push('Swagger UI: /health/ready is not listed');
  if (shots) await swagger.screenshot({ path: `${shots}/swagger.png` });
  console.log('Swagger UI: loaded from this server and lists the REST operations');
} catch (error) {
  problems.push(String(error));
} finally {
  await browser.close();
}

if (problems.length) {
  console.error('browser check failed:\n  ' + problems.join('\n  '));
  process.exit(1);
}
