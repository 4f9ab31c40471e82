// End-to-end journey: starts its own dev stack (moto + API + portal) on free ports, drives
// Debian's Chromium with playwright-core, runs axe-core on the main screens, saves
// screenshots to frontend/test-results/, and stops the stack at the end or on failure.
//
//   node frontend/e2e/journey.mjs        (after `npm run build` in frontend/)

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, createWriteStream } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const frontend = path.resolve(here, '..');
const repo = path.resolve(frontend, '..');
const results = path.join(frontend, 'test-results');
mkdirSync(results, { recursive: true });

const PASSWORD = process.env.ATELIER_DEV_PASSWORD ?? 'Atelier-dev-2026!';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const STEP_TIMEOUT = 60_000;
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

if (!existsSync(path.join(frontend, 'dist', 'index.html'))) {
  console.error('frontend/dist/index.html is missing: run `npm run build` in frontend/ first');
  process.exit(2);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

let server = null;
let browser = null;
let passed = 0;
const failures = [];

function stopServer() {
  if (server && server.exitCode === null && server.signalCode === null) {
    // The dev server runs in its own process group (detached): end the group, moto included.
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {
      try {
        server.kill('SIGTERM');
      } catch {
        // already gone
      }
    }
  }
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    stopServer();
    process.exit(130);
  });
}
process.on('exit', stopServer);

/**
 * Starts the dev server on free ports. The binary in the shared CARGO_TARGET_DIR may have been
 * built from another checkout (worktrees share the target dir), and the dev server serves the
 * portal from the checkout it was built in: so the journey checks that `/` is this checkout's
 * dist/index.html, and otherwise starts it again with `cargo run` (which rebuilds it from here).
 */
async function startStack() {
  const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(process.env.HOME ?? '', '.cache/atelier/target');
  const binary = path.join(targetDir, 'debug', 'dev-server');
  const ours = readFileSync(path.join(frontend, 'dist', 'index.html'), 'utf8');
  const viaCargo = ['cargo', ['run', '-q', '-p', 'dev-server']];
  const first = existsSync(binary) && process.env.E2E_CARGO_RUN !== '1' ? [binary, []] : viaCargo;
  let { base, index } = await launch(first, targetDir);
  if (index !== ours && first !== viaCargo) {
    console.log('    the built dev-server serves another checkout: rebuilding it from this one (cargo run)');
    await stopAndWait();
    ({ base, index } = await launch(viaCargo, targetDir));
  }
  if (index !== ours) throw new Error("the dev server does not serve this checkout's frontend/dist/index.html");
  return base;
}

async function stopAndWait() {
  const s = server;
  stopServer();
  if (s && s.exitCode === null && s.signalCode === null) await new Promise((r) => s.once('exit', r));
}

async function launch([cmd, args], targetDir) {
  const apiPort = await freePort();
  const motoPort = await freePort();
  const gatewayPort = await freePort();
  const log = createWriteStream(path.join(results, 'dev-server.log'));
  server = spawn(cmd, args, {
    cwd: repo,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      CARGO_TARGET_DIR: targetDir,
      ATELIER_VENV: process.env.ATELIER_VENV ?? path.join(repo, '.venv'),
      ATELIER_BIND: `127.0.0.1:${apiPort}`,
      ATELIER_MOTO_PORT: String(motoPort),
      // The gateway (its own origin) in front of each RUNNING workspace's local JupyterLab.
      ATELIER_GATEWAY_BIND: `127.0.0.1:${gatewayPort}`,
      ATELIER_SYNC_SECONDS: '1',
      // Keep the scheduler out of the journey (it would act on office hours).
      ATELIER_SCHEDULER_SECONDS: '3600',
    },
  });
  server.stdout.pipe(log);
  server.stderr.pipe(log);
  const base = `http://127.0.0.1:${apiPort}`;
  const deadline = Date.now() + 240_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`dev server exited with ${server.exitCode}; see test-results/dev-server.log`);
    try {
      const r = await fetch(`${base}/config.json`);
      if (r.ok) {
        // A 404 here means a dev server built elsewhere, whose checkout has no dist/.
        const index = await fetch(`${base}/`);
        return { base, index: index.ok ? await index.text() : `HTTP ${index.status}` };
      }
    } catch (e) {
      if (e instanceof Error && e.message.startsWith('the dev server')) throw e;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('the dev server did not answer /config.json within 240 s');
}

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed++;
    console.log(`  ✓ ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    console.log(`  ✗ ${name}`);
    throw Object.assign(e instanceof Error ? e : new Error(String(e)), { step: name });
  }
}

async function axe(page, label) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const minor = result.filter((v) => !(v.impact === 'serious' || v.impact === 'critical'));
  if (minor.length) console.log(`    axe (${label}): ${minor.length} minor/moderate: ${minor.map((v) => v.id).join(', ')}`);
  if (bad.length) {
    throw new Error(`axe on ${label}: ${bad.map((v) => `${v.impact} ${v.id} (${v.help}) at ${v.nodes.join(' | ')}`).join('; ')}`);
  }
}

async function shot(page, name) {
  // Responsive: nothing makes the page scroll sideways (wide tables scroll inside their frame).
  const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  if (scroll > inner) throw new Error(`${name}: the page is ${scroll} px wide in a ${inner} px window`);
  await page.screenshot({ path: path.join(results, `${name}.png`), fullPage: true });
}

async function signIn(page, base, user) {
  watchTokens(page);
  await page.goto(`${base}/#/workspaces`);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('whoami').filter({ hasText: user }).waitFor();
}

/** RFC 4180 (quoted cells, doubled quotes, CRLF), written independently of the portal's parser. */
function parseCsv(text, sep) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === sep) {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell !== '' || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** "12.34" → 1234n (hundredths); the API writes amounts with at most two decimals. */
function cents(amount) {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(amount);
  if (!m) throw new Error(`not an amount: ${amount}`);
  return BigInt(m[1]) * 100n + BigInt((m[2] ?? '').padEnd(2, '0'));
}

const CSV_COLUMNS =
  'month,user,email,cost_centre,workspace_id,workspace_name,product,instance_type,running_hours,stopped_hours,compute_cost,storage_cost,total_cost,currency,' +
  'running_seconds,storage_gib_seconds,compute_rate,storage_rate,price_version,period_start,period_end,kind';

async function downloadCsv(page, separatorLabel, sep, file) {
  await page.getByLabel(separatorLabel).check();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
  const target = path.join(results, file);
  await download.saveAs(target);
  if (!/^atelier-costs-\d{4}-\d{2}\.csv$/.test(download.suggestedFilename())) {
    throw new Error(`unexpected file name ${download.suggestedFilename()}`);
  }
  const rows = parseCsv(readFileSync(target, 'utf8'), sep);
  if (rows[0].join(',') !== CSV_COLUMNS) throw new Error(`CSV header is ${rows[0].join(',')}`);
  for (const [i, r] of rows.entries()) {
    if (r.length !== rows[0].length) throw new Error(`CSV line ${i + 1} has ${r.length} cells`);
  }
  return rows;
}

function row(page, name) {
  return page.locator(`tr[data-workspace="${name}"]`);
}

async function waitState(page, name, state) {
  await row(page, name).locator(`[data-state="${state}"]`).waitFor({ timeout: STEP_TIMEOUT });
}

/** The last access token each page sent to the API, read off its requests: the portal keeps
 * its session in memory only, so nothing in the page's storage holds it. */
const tokens = new WeakMap();

function watchTokens(page) {
  if (tokens.has(page)) return;
  tokens.set(page, null);
  page.on('request', (request) => {
    const authorization = request.headers()['authorization'];
    if (authorization?.startsWith('Bearer ') && new URL(request.url()).pathname.startsWith('/v1/')) {
      tokens.set(page, authorization.slice('Bearer '.length));
    }
  });
}

function accessToken(page) {
  const token = tokens.get(page);
  if (!token) throw new Error('this page has sent the API no token yet');
  return token;
}

/** Whether the page's web storage holds `text` anywhere (keys or values). */
function storageHolds(page, text) {
  return page.evaluate((t) => {
    const all = [];
    for (const store of [sessionStorage, localStorage]) {
      for (let i = 0; i < store.length; i++) all.push(store.key(i), store.getItem(store.key(i)));
    }
    return all.some((v) => v?.includes(t));
  }, text);
}

/** The gateway URL of a workspace's app, as the API gives it (`…/w/<id>/<app>/`). */
async function appUrl(base, token, id, app) {
  const r = await fetch(`${base}/v1/workspaces/${encodeURIComponent(id)}/apps`, { headers: { Authorization: `Bearer ${token}` } });
  if (!r.ok) throw new Error(`GET apps answered ${r.status}: ${await r.text()}`);
  const item = (await r.json()).items.find((a) => a.app === app);
  if (!item) throw new Error(`the workspace has no ${app}`);
  return item.url;
}

/** "0.0928" → 928n (ten-thousandths): the catalog's prices have at most four decimals. */
function units(amount) {
  const m = /^(\d+)(?:\.(\d{1,4}))?$/.exec(String(amount));
  if (!m) throw new Error(`not a price: ${amount}`);
  return BigInt(m[1]) * 10000n + BigInt((m[2] ?? '').padEnd(4, '0'));
}

/** Tomorrow's date in `zone` (YYYY-MM-DD), and the UTC instant of `hh:mm` that day there (RFC 3339). */
function tomorrowIn(zone, hhmm) {
  const parts = (at) =>
    Object.fromEntries(
      new Intl.DateTimeFormat('en-CA', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
      })
        .formatToParts(at)
        .map((p) => [p.type, p.value]),
    );
  const { year, month, day } = parts(new Date(Date.now() + 24 * 3600 * 1000));
  const [h, m] = hhmm.split(':').map(Number);
  // The zone's offset at that wall time (09:00 is never inside a daylight-saving change).
  const guess = Date.UTC(Number(year), Number(month) - 1, Number(day), h, m);
  const seen = parts(new Date(guess));
  const offset = Date.UTC(Number(seen.year), Number(seen.month) - 1, Number(seen.day), Number(seen.hour), Number(seen.minute)) - guess;
  const utc = new Date(guess - offset).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { date: `${year}-${month}-${day}`, local: `${year}-${month}-${day}T${hhmm}`, utc };
}

/** The dev stack's Service Catalog products (moto), as `GET /_local/service-catalog` lists them (no token: local only). */
async function serviceCatalogProducts(base) {
  const r = await fetch(`${base}/_local/service-catalog`, { headers: { Accept: 'application/json' } });
  if (!r.ok) throw new Error(`GET /_local/service-catalog answered ${r.status}: ${await r.text()}`);
  const body = await r.json();
  if (!Array.isArray(body.items)) throw new Error(`GET /_local/service-catalog: no items list in ${JSON.stringify(body)}`);
  return body.items;
}

/** `GET /v1/products` (every page) with `token`. */
async function apiProducts(base, token) {
  const items = [];
  let next = null;
  do {
    const q = new URLSearchParams({ limit: '100', ...(next ? { nextToken: next } : {}) });
    const r = await fetch(`${base}/v1/products?${q}`, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' } });
    if (!r.ok) throw new Error(`GET /v1/products answered ${r.status}: ${await r.text()}`);
    const page = await r.json();
    items.push(...page.items);
    next = page.nextToken;
  } while (next);
  return items;
}

const JUPYTER_TIMEOUT = 90_000;

async function main() {
  console.log('e2e journey');
  let base;
  await step('start the dev stack on free ports', async () => {
    base = await startStack();
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-quic',
      '--disable-sync',
    ],
  });
  const name = `Journey ${Date.now().toString(36)}`;

  // alice
  const alice = await browser.newContext({ viewport: { width: 1366, height: 800 } });
  alice.setDefaultTimeout(STEP_TIMEOUT);
  const page = await alice.newPage();
  watchTokens(page);
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  await step('sign-in screen is accessible', async () => {
    await page.goto(`${base}/#/catalog`);
    await page.getByRole('heading', { name: 'Sign in to Atelier' }).waitFor();
    await axe(page, 'sign-in');
    await shot(page, '01-sign-in');
  });
  await step('a wrong password shows a readable error', async () => {
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: /incorrect username or password/i }).waitFor();
  });
  await step('alice signs in and lands back on the catalog', async () => {
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Catalog', level: 1 }).waitFor();
    const card = page.getByRole('article', { name: 'Python & R workstation' });
    await card.getByText('€0.35 per hour').waitFor();
    await card.getByText('€3.15 per 9-hour working day').waitFor();
    await axe(page, 'catalog');
    await shot(page, '02-catalog');
  });
  await step('an invalid name shows the problem detail', async () => {
    await page.getByRole('button', { name: 'Launch Python & R workstation' }).click();
    await page.getByRole('dialog').waitFor();
    await page.getByLabel('Workspace name').fill('bad/name!');
    await page.getByRole('dialog').getByRole('button', { name: 'Launch' }).click();
    await page.getByRole('dialog').getByRole('alert').filter({ hasText: 'name' }).waitFor();
    await axe(page, 'launch dialog');
    await shot(page, '03-launch-dialog');
  });
  await step('alice launches a workspace (always on)', async () => {
    await page.getByLabel('Workspace name').fill(name);
    await page.getByLabel(/Always on/).check();
    await page.getByRole('dialog').getByRole('button', { name: 'Launch' }).click();
    await page.getByRole('heading', { name: 'My workspaces', level: 1 }).waitFor();
    await row(page, name).waitFor();
  });
  await step('the workspace reaches RUNNING', async () => {
    await waitState(page, name, 'RUNNING');
    await axe(page, 'my workspaces');
    await shot(page, '04-my-workspaces');
  });
  await step('alice stops it: STOPPED', async () => {
    await row(page, name).getByRole('button', { name: `Stop ${name}` }).click();
    await waitState(page, name, 'STOPPED');
  });
  await step('the workspace page shows history, schedule and actions', async () => {
    await row(page, name).getByRole('link', { name }).click();
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    await page.getByText('Always on: the schedule is disabled.').waitFor();
    await page.getByRole('cell', { name: 'Schedule changed' }).first().waitFor();
    await page.getByRole('cell', { name: 'Created' }).first().waitFor();
    await axe(page, 'workspace page');
    await shot(page, '05-workspace-page');
  });
  await step('French is selectable', async () => {
    await page.getByLabel('Language').selectOption('fr');
    await page.getByRole('heading', { name: 'Historique' }).waitFor();
    await axe(page, 'workspace page (fr)');
    await shot(page, '06-workspace-page-fr');
    await page.getByLabel('Langue').selectOption('en');
    await page.getByRole('heading', { name: 'History' }).waitFor();
  });
  await step('the schedule editor shows the API error, previews and saves a weekly schedule', async () => {
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Edit schedule' }).click();
    const editor = page.getByRole('form', { name: 'Weekly schedule' });
    await editor.getByLabel('Follow a schedule').check();
    await editor.getByLabel('Time zone').fill('Europe/Paris');
    // A second Mon-Fri 09:00-18:00 window overlaps the first: the API says so.
    const windows = await editor.getByRole('group', { name: /^Running hours \d$/ }).count();
    await editor.getByRole('button', { name: 'Add running hours' }).click();
    if (windows === 0) await editor.getByRole('button', { name: 'Add running hours' }).click();
    await editor.getByRole('button', { name: 'Save schedule' }).click();
    await editor.getByRole('alert').filter({ hasText: /overlap/ }).waitFor();
    const last = (await editor.getByRole('group', { name: /^Running hours \d$/ }).count());
    await editor.getByRole('button', { name: `Remove running hours ${last}` }).click();
    await editor.getByLabel('Running hours 1: Saturday').check();
    await editor.getByLabel('Hibernate the machine (keeps memory; products that support it)').check();
    await editor.getByLabel('Public holidays of a country').check();
    await editor.getByRole('button', { name: 'Preview next changes' }).click();
    await editor.getByTestId('schedule-preview').getByText(/^Starts /).first().waitFor();
    await axe(page, 'schedule editor');
    await shot(page, '06b-schedule-editor');
    await editor.getByRole('button', { name: 'Save schedule' }).click();
    await editor.waitFor({ state: 'detached' });
    await page.getByText('Hibernated outside these hours.').waitFor();
    await page.getByText('Public holidays (fr) are days off.').waitFor();
    await page.getByText(/Mon–Sat 09:00–18:00/).waitFor();
    // Back to always on, so that nothing acts on the workspace during the rest of the journey.
    await page.getByRole('button', { name: 'Make always on' }).click();
    await page.getByText('Always on: the schedule is disabled.').waitFor();
  });
  await step("alice sees this month's cost to date with a chart", async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'My workspaces' }).click();
    await page.getByRole('heading', { name: /^Cost to date, / }).waitFor();
    await page.getByTestId('my-costs-total').waitFor();
    await page.locator(`tr[data-cost-line="${name}"]`).waitFor();
    await page.getByTestId('my-costs-chart').locator('svg[role="img"]').waitFor();
    await axe(page, 'my workspaces with costs');
    await shot(page, '04b-my-costs');
  });
  await step('alice terminates it by typing its name: TERMINATED', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'My workspaces' }).click();
    await row(page, name).getByRole('button', { name: `Terminate ${name}` }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    const confirm = dialog.getByRole('button', { name: 'Terminate workspace' });
    if (await confirm.isEnabled()) throw new Error('terminate is enabled before the name is typed');
    await dialog.getByLabel('Type the workspace name to confirm').fill(name);
    await axe(page, 'terminate dialog');
    await shot(page, '07-terminate-dialog');
    await confirm.click();
    await dialog.waitFor({ state: 'detached' });
    await waitState(page, name, 'TERMINATED');
  });
  // JupyterLab through the gateway (issue #17): a small notebook, the only app it declares.
  const notebook = `Notebook ${Date.now().toString(36)}`;
  let notebookId;
  let lab;
  await step('alice launches a small notebook; "Open JupyterLab" is enabled once it answers', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Catalog' }).click();
    await page.getByRole('button', { name: 'Launch Small notebook' }).click();
    await page.getByLabel('Workspace name').fill(notebook);
    await page.getByLabel(/Always on/).check();
    await page.getByRole('dialog').getByRole('button', { name: 'Launch' }).click();
    await waitState(page, notebook, 'RUNNING');
    await row(page, notebook).getByRole('link', { name: notebook }).click();
    await page.getByRole('heading', { name: notebook, level: 1 }).waitFor();
    notebookId = decodeURIComponent(new URL(page.url()).hash.replace(/^#\/workspaces\//, ''));
    const apps = page.getByTestId('workspace-apps');
    const open = apps.getByRole('button', { name: 'Open JupyterLab' });
    await open.waitFor();
    // JupyterLab starts in a few seconds; the sync loop then reports it up.
    await apps.locator('button[data-app="jupyterlab"]:not([disabled])').waitFor({ timeout: JUPYTER_TIMEOUT });
    await axe(page, 'workspace page with apps');
    await shot(page, '13-workspace-apps');
    const [tab] = await Promise.all([alice.waitForEvent('page'), open.click()]);
    lab = tab;
    lab.setDefaultTimeout(JUPYTER_TIMEOUT);
    await lab.waitForLoadState('domcontentloaded');
    if (/access_token|eyJ/.test(lab.url())) throw new Error(`the token is in the URL: ${lab.url()}`);
  });
  await step('JupyterLab runs a Python 3 cell through the gateway (kernel WebSocket)', async () => {
    await lab.locator('.jp-LabShell').waitFor();
    await lab.locator('.jp-LauncherCard[data-category="Notebook"][title="Python 3 (ipykernel)"]').first().click();
    const cell = lab.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').first();
    const editor = cell.locator('.cm-content');
    await editor.waitFor();
    // On a loaded machine the kernel takes a while, and keys typed while the notebook is still
    // settling can be lost: wait for the kernel to be idle, check the cell holds the code, and
    // run it again (up to three times) if no output came.
    await lab.getByText(/Python 3 \(ipykernel\) \| Idle/).first().waitFor({ timeout: 120_000 });
    const output = cell.locator('.jp-OutputArea-output').filter({ hasText: /^\s*2\s*$/ });
    for (let attempt = 1; ; attempt += 1) {
      await editor.click();
      if (!(await editor.innerText()).includes('1+1')) await lab.keyboard.type('1+1');
      await lab.keyboard.press('Shift+Enter');
      try {
        await output.waitFor({ timeout: 30_000 });
        break;
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
    await lab.screenshot({ path: path.join(results, '14-jupyterlab.png') });
  });
  await step("bob is refused on alice's JupyterLab: 404 with his token, 401 without a session", async () => {
    const url = await appUrl(base, await accessToken(page), notebookId, 'jupyterlab');
    const bobCtx = await browser.newContext();
    bobCtx.setDefaultTimeout(STEP_TIMEOUT);
    const bobPage = await bobCtx.newPage();
    await signIn(bobPage, base, 'bob');
    const bobToken = await accessToken(bobPage);
    await bobCtx.close();
    if (!bobToken) throw new Error('no access token for bob');
    const post = await fetch(`${url}_atelier/session`, {
      method: 'POST',
      redirect: 'manual',
      headers: { Origin: base, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: bobToken }),
    });
    if (post.status !== 404) throw new Error(`bob's session POST answered ${post.status}, not 404`);
    if (post.headers.get('set-cookie')) throw new Error('the gateway set a cookie for bob');
    const bearer = await fetch(`${url}lab`, { redirect: 'manual', headers: { Authorization: `Bearer ${bobToken}` } });
    if (bearer.status !== 404) throw new Error(`bob's bearer GET answered ${bearer.status}, not 404`);
    const anonymous = await fetch(`${url}lab`, { redirect: 'manual' });
    if (anonymous.status !== 401) throw new Error(`a GET without a session answered ${anonymous.status}, not 401`);
  });
  await step("ada (admin) gets break-glass access to alice's notebook with a reason, and opens JupyterLab", async () => {
    const adaCtx = await browser.newContext({ viewport: { width: 1366, height: 800 } });
    adaCtx.setDefaultTimeout(STEP_TIMEOUT);
    try {
      const admin = await adaCtx.newPage();
      await signIn(admin, base, 'ada');
      await admin.goto(`${base}/#/workspaces/${encodeURIComponent(notebookId)}`);
      await admin.getByRole('heading', { name: notebook, level: 1 }).waitFor();
      const apps = admin.getByTestId('workspace-apps');
      await apps.getByText('This workspace belongs to alice.', { exact: false }).waitFor();
      if ((await apps.getByRole('button', { name: 'Open JupyterLab' }).count()) !== 0) throw new Error('ada can open JupyterLab without break-glass');
      await apps.getByRole('button', { name: 'Break-glass access' }).click();
      const form = apps.getByRole('form', { name: 'Break-glass access' });
      await form.getByRole('button', { name: 'Grant access' }).click();
      await form.getByText('Give a reason for the access.').waitFor();
      await form.getByLabel('Reason').fill('INC-4242 kernel stuck');
      await axe(admin, 'break-glass form');
      await form.getByRole('button', { name: 'Grant access' }).click();
      await apps.getByTestId('break-glass-active').filter({ hasText: /^Break-glass access until / }).waitFor();
      const open = apps.locator('button[data-app="jupyterlab"]:not([disabled])');
      await open.waitFor();
      await shot(admin, '16-break-glass');
      const [tab] = await Promise.all([adaCtx.waitForEvent('page'), open.click()]);
      await tab.locator('.jp-LabShell').waitFor({ timeout: JUPYTER_TIMEOUT });
    } finally {
      await adaCtx.close();
    }
  });
  await step("alice's history shows the connection and the break-glass; she terminates the notebook", async () => {
    await lab.close();
    await page.bringToFront();
    // The session is in memory only: a reload signs in again, then shows the same page.
    await page.reload();
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: notebook, level: 1 }).waitFor();
    await page.getByRole('cell', { name: /^Opened JupyterLab from / }).first().waitFor({ timeout: 30_000 });
    const glass = page.locator('tr').filter({ has: page.getByRole('cell', { name: 'Break-glass access', exact: true }) });
    await glass.getByRole('cell', { name: 'INC-4242 kernel stuck' }).waitFor();
    await glass.getByRole('cell', { name: 'ada' }).waitFor();
    await page.getByRole('cell', { name: /^Opened JupyterLab from .* \(break-glass\)$/ }).waitFor();
    await shot(page, '15-workspace-history-connect');
    // Nothing of alice's may run on: the cost report and the CSV are compared later.
    await page.getByRole('navigation').getByRole('link', { name: 'My workspaces' }).click();
    await row(page, notebook).getByRole('button', { name: `Terminate ${notebook}` }).click();
    await page.getByRole('dialog').getByLabel('Type the workspace name to confirm').fill(notebook);
    await page.getByRole('dialog').getByRole('button', { name: 'Terminate workspace' }).click();
    await waitState(page, notebook, 'TERMINATED');
  });
  await step('alice signs out', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Atelier' }).waitFor();
  });
  if (consoleErrors.length) throw new Error(`page errors: ${consoleErrors.join('; ')}`);
  await alice.close();

  // bob
  const bobContext = await browser.newContext({ viewport: { width: 1366, height: 800 } });
  bobContext.setDefaultTimeout(STEP_TIMEOUT);
  const bob = await bobContext.newPage();
  await step('bob signs in and does not see it', async () => {
    await signIn(bob, base, 'bob');
    await bob.getByRole('heading', { name: 'My workspaces', level: 1 }).waitFor();
    // His own list: only last month's seeded work (make dev seeds it, terminated), never alice's.
    await bob.getByText('Genome assembly').first().waitFor();
    if ((await row(bob, name).count()) !== 0) throw new Error("bob sees alice's workspace");
    if ((await bob.getByText('Survival analysis').count()) !== 0) throw new Error("bob sees alice's seeded workspace");
    if ((await bob.getByRole('link', { name: 'Admin' }).count()) !== 0) throw new Error('bob sees the admin entry');
  });
  const bobName = `Heavy ${Date.now().toString(36)}`;
  await step('bob runs a memory-heavy workspace for about 20 s, then terminates it', async () => {
    // 2.20 EUR/h: 20 s cost about 0.01 EUR, so the cost report is not all zeros.
    await bob.getByRole('navigation').getByRole('link', { name: 'Catalog' }).click();
    await bob.getByRole('button', { name: 'Launch Memory-heavy analysis' }).click();
    await bob.getByLabel('Workspace name').fill(bobName);
    await bob.getByLabel(/Always on/).check();
    await bob.getByRole('dialog').getByRole('button', { name: 'Launch' }).click();
    await waitState(bob, bobName, 'RUNNING');
    await bob.waitForTimeout(20_000);
    await row(bob, bobName).getByRole('button', { name: `Terminate ${bobName}` }).click();
    await bob.getByRole('dialog').getByLabel('Type the workspace name to confirm').fill(bobName);
    await bob.getByRole('dialog').getByRole('button', { name: 'Terminate workspace' }).click();
    await waitState(bob, bobName, 'TERMINATED');
  });
  await bobContext.close();

  // ada
  const adaContext = await browser.newContext({ viewport: { width: 1366, height: 800 } });
  adaContext.setDefaultTimeout(STEP_TIMEOUT);
  const ada = await adaContext.newPage();
  await step('ada (admin) sees it in the admin list, filterable', async () => {
    await signIn(ada, base, 'ada');
    await ada.getByRole('link', { name: 'Admin' }).click();
    await ada.getByRole('heading', { name: 'All workspaces' }).waitFor();
    await row(ada, name).waitFor();
    await ada.getByLabel('Owner').selectOption('alice');
    await ada.getByLabel('State').selectOption('TERMINATED');
    await row(ada, name).getByRole('cell', { name: 'alice' }).waitFor();
    await axe(ada, 'admin');
    await shot(ada, '08-admin');
    await ada.getByLabel('State').selectOption('RUNNING');
    await ada.getByText('No workspace matches these filters.').waitFor();
  });
  await step('no token in web storage; a refused token returns to sign-in, then to the same page', async () => {
    await ada.getByLabel('State').selectOption('');
    await row(ada, name).waitFor();
    const token = accessToken(ada);
    if (await storageHolds(ada, token.slice(-24))) throw new Error('the access token is in web storage');
    // The API refuses the next request's token, as it does an expired or revoked one.
    let refused = false;
    await ada.route('**/v1/**', async (route) => {
      if (refused) return route.continue();
      refused = true;
      const body = JSON.stringify({ type: '/problems/unauthorized', title: 'Unauthorized', status: 401, detail: 'token rejected: ExpiredSignature' });
      await route.fulfill({ status: 401, contentType: 'application/problem+json', body });
    });
    // The list's next poll gets the 401.
    await ada.getByText('Your session has expired').waitFor();
    await ada.unroute('**/v1/**');
    await ada.getByLabel('Username').fill('ada');
    await ada.getByLabel('Password').fill(PASSWORD);
    await ada.getByRole('button', { name: 'Sign in' }).click();
    await ada.getByRole('heading', { name: 'All workspaces' }).waitFor();
    if (!ada.url().endsWith('#/admin')) throw new Error(`not back on the admin page: ${ada.url()}`);
  });
  let reportTotal;
  let aliceTotal;
  await step("ada sets the organisation default budget and bob's own budget", async () => {
    await ada.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name: 'Budgets' }).click();
    await ada.getByRole('heading', { name: 'Budgets', level: 1 }).waitFor();
    const org = ada.getByRole('region', { name: 'Organisation default' });
    await org.getByTestId('org-budget-current').waitFor();
    await org.getByLabel('Default monthly budget (EUR)').fill('250');
    await org.getByLabel('Thresholds (%)').fill('80, 100');
    await org.getByRole('button', { name: 'Save' }).click();
    await org.getByTestId('org-budget-current').filter({ hasText: 'Default monthly budget: €250.00.' }).waitFor();
    const user = ada.getByRole('region', { name: 'A user’s budget' });
    await user.getByLabel('User', { exact: true }).fill('nobody');
    await user.getByRole('button', { name: 'Open' }).click();
    await user.getByRole('alert').waitFor();
    await user.getByLabel('User', { exact: true }).fill('alice');
    await user.getByRole('button', { name: 'Open' }).click();
    await user.getByText('No own budget: the organisation default applies (€250.00 per month).').waitFor();
    await user.getByLabel('User', { exact: true }).fill('bob');
    await user.getByRole('button', { name: 'Open' }).click();
    await user.getByTestId('user-budget').and(ada.locator('[data-user="bob"]')).waitFor();
    await user.getByLabel('Own monthly budget (EUR)').fill('0.01');
    await user.getByRole('button', { name: 'Save' }).click();
    await user.getByText('Own budget: €0.01 per month.').waitFor();
    await axe(ada, 'budgets');
    await shot(ada, '09a-admin-budgets');
  });
  await step("ada sees the cost report, with alice's line and her workspace's", async () => {
    await ada.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name: 'Costs' }).click();
    await ada.getByRole('heading', { name: 'Cost report', level: 1 }).waitFor();
    const aliceRow = ada.locator('tr[data-user="alice"]');
    await aliceRow.waitFor();
    await aliceRow.getByText('CC-ONCOLOGY').waitFor();
    await ada.locator(`tr[data-cost-line="${name}"][data-owner="alice"]`).waitFor();
    await ada.getByTestId('users-chart').locator('svg[role="img"]').waitFor();
    reportTotal = await ada.getByTestId('report-total').getAttribute('data-amount');
    aliceTotal = await aliceRow.getAttribute('data-total');
    if (!reportTotal || cents(reportTotal) === 0n) throw new Error(`the report total is ${reportTotal}; bob's workspace should cost something`);
    await ada.locator(`tr[data-cost-line="${bobName}"][data-owner="bob"]`).waitFor();
    // Budget bars: bob's own 0.01 EUR is used up (his 20 s run is billed EC2's 60-second
    // minimum, about 0.04 EUR: several times the budget); alice has the organisation default.
    await ada.locator('tr[data-user="bob"]').getByText(/^€0\.01 \(\d[\d\s\u202f\u00a0]* % used\)$/).waitFor();
    await aliceRow.getByText('€250.00 (0 % used)').waitFor();
    await axe(ada, 'cost report');
    await shot(ada, '09-admin-costs');
  });
  await step('ada edits the organisation default schedule', async () => {
    await ada.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name: 'Default schedule' }).click();
    await ada.getByRole('heading', { name: 'Default schedule', level: 1 }).waitFor();
    const editor = ada.getByRole('form', { name: 'Weekly schedule' });
    await editor.getByLabel('Time zone').fill('Not/AZone');
    await editor.getByRole('button', { name: 'Save schedule' }).click();
    await editor.getByRole('alert').filter({ hasText: 'unknown time zone' }).waitFor();
    await editor.getByLabel('Time zone').fill('Europe/Paris');
    await editor.getByLabel('Public holidays of a country').check();
    await editor.getByRole('button', { name: 'Save schedule' }).click();
    await editor.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    await ada.getByTestId('default-schedule-summary').getByText('Public holidays (fr) are days off.').waitFor();
    await axe(ada, 'default schedule');
    await shot(ada, '10-admin-default-schedule');
  });
  await step("ada reads her notifications: bob's month is past his 0.01 EUR budget", async () => {
    // The budget watch's full pass now, as the scheduler's next tick would run it.
    const r = await fetch(`${base}/_local/budget/run`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ time: new Date().toISOString() }),
    });
    if (!r.ok) throw new Error(`POST /_local/budget/run answered ${r.status}: ${await r.text()}`);
    await ada.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Notifications' }).click();
    await ada.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
    const list = ada.getByTestId('notifications');
    await list.getByText(/^bob's estimated cost for \S+ \d{4} reached 100 % of their budget: €0\.\d\d of €0\.01\./).first().waitFor();
    await list.locator('li[data-kind="budget-crossing"]').first().getByText(/^E-mail (sent|not sent yet)/).waitFor();
    await axe(ada, 'notifications');
    await shot(ada, '10b-notifications');
  });
  await adaContext.close();

  // The catalog (issue #15): ada publishes the Service Catalog product the dev stack left
  // unpublished, then appends a price version; alice (in `scientists`) can launch it. The
  // browser is in Paris, so the price version's local time is checked to arrive in UTC.
  const CATALOG_ZONE = 'Europe/Paris';
  const newId = 'gpu-less-notebook';
  let scProduct;
  const catalogContext = await browser.newContext({ viewport: { width: 1366, height: 800 }, timezoneId: CATALOG_ZONE });
  catalogContext.setDefaultTimeout(STEP_TIMEOUT);
  const admin = await catalogContext.newPage();
  watchTokens(admin);
  const adminErrors = [];
  admin.on('pageerror', (e) => adminErrors.push(String(e)));
  const adminTab = (name) => admin.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name, exact: true });
  await step('ada opens Admin › Catalog and sees the seeded products, published', async () => {
    await signIn(admin, base, 'ada');
    await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();
    await adminTab('Catalog').click();
    await admin.getByRole('heading', { name: 'Catalog administration', level: 1 }).waitFor();
    if (!admin.url().endsWith('#/admin/catalog')) throw new Error(`not on #/admin/catalog: ${admin.url()}`);
    for (const [id, name, type, price] of [
      ['python-r-standard', 'Python & R workstation', 'm5.2xlarge', '€0.35 per hour'],
      ['small-t3-large', 'Small notebook', 't3.large', '€0.09 per hour'],
      ['memory-r5-8xlarge', 'Memory-heavy analysis', 'r5.8xlarge', '€2.20 per hour'],
    ]) {
      const r = admin.locator(`tr[data-product="${id}"][data-published="true"]`);
      await r.getByRole('rowheader').filter({ hasText: name }).waitFor();
      await r.getByRole('cell', { name: type, exact: true }).waitFor();
      await r.getByText(price).waitFor();
    }
    await admin.locator('tr[data-product="python-r-standard"]').getByText('8 vCPU / 32 GiB').waitFor();
    await admin.locator('tr[data-product="python-r-standard"]').getByText('€0.0928 per GB-month').waitFor();
    await admin.locator('tr[data-product="memory-r5-8xlarge"]').getByRole('cell', { name: 'No', exact: true }).waitFor();
    await admin.getByLabel('Language').selectOption('fr');
    await admin.getByRole('heading', { name: 'Administration du catalogue', level: 1 }).waitFor();
    await admin.getByRole('form', { name: 'Publier un produit Service Catalog' }).waitFor();
    await axe(admin, 'admin catalog (fr)');
    await admin.getByLabel('Langue').selectOption('en');
    await admin.getByRole('heading', { name: 'Catalog administration', level: 1 }).waitFor();
    await axe(admin, 'admin catalog');
    await shot(admin, '17-admin-catalog');
  });
  await step("ada publishes the dev stack's unpublished Service Catalog product (t3.large, 50 GiB, hibernation, scientists, 0.09 / 0.0928 EUR)", async () => {
    const items = await serviceCatalogProducts(base);
    scProduct = items.find((i) => i.published === false);
    if (!scProduct || !scProduct.id || !scProduct.name) {
      throw new Error(`GET /_local/service-catalog lists no unpublished product with an id and a name: ${JSON.stringify(items)}`);
    }
    if ((await admin.locator(`tr[data-product="${newId}"]`).count()) !== 0) throw new Error(`${newId} is in the catalog before it is published`);
    const form = admin.getByRole('form', { name: 'Publish a Service Catalog product' });
    await form.getByLabel('Identifier in Atelier').fill(newId);
    await form.getByLabel('Service Catalog product id').fill(scProduct.id);
    await form.getByLabel('Instance type').fill('t3.large');
    await form.getByLabel('Disk size (GiB)').fill('50');
    await form.getByLabel('Workspaces can hibernate').check();
    await form.getByLabel('Visible to (groups)').fill('scientists');
    await form.getByLabel('JupyterLab').check();
    await form.getByLabel('Compute price per hour').fill('0.09');
    await form.getByLabel('Storage price per GB-month').fill('0.0928');
    await form.getByLabel('Currency').fill('EUR');
    await form.getByRole('button', { name: 'Publish' }).click();
    await form.getByRole('status').filter({ hasText: /^Product .+ published\.$/ }).waitFor();
    // Name and description come from Service Catalog, vCPU and memory from EC2 (t3.large: 2 / 8 GiB).
    const r = admin.locator(`tr[data-product="${newId}"][data-published="true"]`);
    await r.getByRole('rowheader').filter({ hasText: scProduct.name }).waitFor();
    await r.getByRole('cell', { name: 't3.large', exact: true }).waitFor();
    await r.getByText('2 vCPU / 8 GiB').waitFor();
    await r.getByText('50 GiB').waitFor();
    await r.getByRole('cell', { name: 'Yes', exact: true }).waitFor();
    await r.getByText('€0.09 per hour').waitFor();
    await r.getByText('€0.0928 per GB-month').waitFor();
    await r.getByRole('cell', { name: 'scientists', exact: true }).waitFor();
    const product = (await apiProducts(base, await accessToken(admin))).find((p) => p.id === newId);
    if (!product) throw new Error(`GET /v1/products (ada) has no ${newId}`);
    if (product.serviceCatalog?.productId !== scProduct.id) {
      throw new Error(`${newId} is not backed by ${scProduct.id}: ${JSON.stringify(product.serviceCatalog)}`);
    }
    if (product.volumeGiB !== 50 || product.hibernation !== true || product.published !== true) {
      throw new Error(`${newId} was published as ${JSON.stringify(product)}`);
    }
    if (JSON.stringify(product.apps) !== '["jupyterlab"]' || JSON.stringify(product.visibleTo) !== '["scientists"]') {
      throw new Error(`${newId} has apps ${JSON.stringify(product.apps)} and visibleTo ${JSON.stringify(product.visibleTo)}`);
    }
    const { amount, currency } = product.hourlyPrice;
    if (typeof amount !== 'string' || units(amount) !== units('0.09') || currency !== 'EUR') {
      throw new Error(`hourly price ${JSON.stringify(product.hourlyPrice)}`);
    }
    if (typeof product.storagePrice?.amount !== 'string' || units(product.storagePrice.amount) !== units('0.0928')) {
      throw new Error(`storage price ${JSON.stringify(product.storagePrice)}`);
    }
  });
  await step('ada appends a price version effective tomorrow 09:00 (Paris), sent in UTC; unpublishing asks first', async () => {
    const tomorrow = tomorrowIn(CATALOG_ZONE, '09:00');
    await admin.locator(`tr[data-product="${newId}"]`).getByRole('button', { name: `Manage ${scProduct.name}` }).click();
    const panel = admin.locator(`[data-testid="manage-product"][data-product="${newId}"]`);
    await panel.waitFor();
    const form = panel.getByRole('form', { name: 'Add a price version' });
    const prefilled = await form.getByLabel('Currency').inputValue();
    if (prefilled !== 'EUR') throw new Error(`the currency is prefilled with "${prefilled}", not the product's EUR`);
    await form.getByLabel('Compute price per hour').fill('0.10');
    await form.getByLabel('Storage price per GB-month').fill('0.0928');
    await form.getByLabel('Effective from').fill(tomorrow.local);
    await form.getByRole('button', { name: 'Add the price version' }).click();
    await panel.getByRole('status').filter({ hasText: new RegExp(`^Price version from .+ added to `) }).waitFor();
    const prices = panel.getByTestId('price-history');
    await prices.locator('tr').filter({ hasText: 'scheduled' }).filter({ hasText: '€0.10' }).waitFor();
    await prices.locator('tr').filter({ hasText: 'in force' }).filter({ hasText: '€0.09' }).waitFor();
    const product = (await apiProducts(base, await accessToken(admin))).find((p) => p.id === newId);
    const version = (product?.prices ?? []).find((v) => Date.parse(v.effectiveFrom) === Date.parse(tomorrow.utc));
    if (!version) throw new Error(`no price version from ${tomorrow.utc} (${tomorrow.local} in ${CATALOG_ZONE}): ${JSON.stringify(product?.prices)}`);
    if (typeof version.computePerHour !== 'string' || units(version.computePerHour) !== units('0.10') || version.currency !== 'EUR') {
      throw new Error(`the new version is ${JSON.stringify(version)}`);
    }
    // In force now: still the first price.
    if (units(product.hourlyPrice.amount) !== units('0.09')) throw new Error(`the hourly price in force is ${product.hourlyPrice.amount}`);
    const history = panel.getByTestId('product-history');
    await history.locator('tr[data-action="price"]').getByRole('cell', { name: 'ada', exact: true }).waitFor();
    await history.locator('tr[data-action="price"]').getByRole('cell', { name: 'Price version added', exact: true }).waitFor();
    await history.locator('tr[data-action="publish"]').getByRole('cell', { name: 'ada', exact: true }).waitFor();
    await history.locator('tr[data-action="publish"]').getByRole('cell', { name: 'Published', exact: true }).waitFor();
    await axe(admin, 'admin catalog product');
    await shot(admin, '18-admin-catalog-product');
    await panel.getByRole('button', { name: `Unpublish ${scProduct.name}` }).click();
    const dialog = admin.getByRole('dialog', { name: `Unpublish ${scProduct.name}?` });
    await dialog.getByText('Running workspaces are untouched and keep their prices.', { exact: false }).waitFor();
    await axe(admin, 'unpublish dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    await admin.locator(`tr[data-product="${newId}"][data-published="true"]`).waitFor();
  });
  if (adminErrors.length) throw new Error(`page errors: ${adminErrors.join('; ')}`);
  await catalogContext.close();

  const aliceAgain = await browser.newContext({ viewport: { width: 1366, height: 800 } });
  aliceAgain.setDefaultTimeout(STEP_TIMEOUT);
  await step('alice sees the new product in her catalog at the price in force, with its disk and JupyterLab', async () => {
    const p = await aliceAgain.newPage();
    await signIn(p, base, 'alice');
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Catalog' }).click();
    await p.getByRole('heading', { name: 'Catalog', level: 1 }).waitFor();
    const card = p.getByRole('article', { name: scProduct.name });
    await card.getByText('€0.09 per hour').waitFor();
    await card.getByText('€0.81 per 9-hour working day').waitFor();
    await card.getByText('2 vCPU').waitFor();
    await card.getByText('50 GiB disk').waitFor();
    await card.getByText('JupyterLab', { exact: true }).waitFor();
    await card.getByRole('button', { name: `Launch ${scProduct.name}` }).waitFor();
    await axe(p, 'catalog with the new product');
    await shot(p, '19-catalog-new-product');
  });
  await aliceAgain.close();

  // fiona (finance)
  // A small laptop screen.
  const fionaContext = await browser.newContext({ viewport: { width: 1024, height: 700 }, acceptDownloads: true });
  fionaContext.setDefaultTimeout(STEP_TIMEOUT);
  const fiona = await fionaContext.newPage();
  await step('fiona previews the month and downloads the CSV (comma and semicolon); totals match the report', async () => {
    await signIn(fiona, base, 'fiona');
    if ((await fiona.getByRole('link', { name: 'Admin' }).count()) !== 0) throw new Error('fiona sees the admin entry');
    await fiona.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Finance' }).click();
    await fiona.getByRole('heading', { name: 'Finance export', level: 1 }).waitFor();
    const preview = await fiona.getByTestId('finance-total').getAttribute('data-amount');
    await fiona.locator('tr[data-user="alice"]').waitFor();
    await axe(fiona, 'finance');
    await shot(fiona, '11-finance');
    for (const [label, sep, file] of [
      ['Comma (,)', ',', 'costs-comma.csv'],
      ['Semicolon (;) for spreadsheets in French', ';', 'costs-semicolon.csv'],
    ]) {
      const rows = await downloadCsv(fiona, label, sep, file);
      const header = rows[0];
      // The estimates add up to the report; Cost Explorer's `actual` rows are in USD.
      const lines = rows.slice(1).filter((r) => r[header.indexOf('kind')] === 'estimate');
      const total = lines.reduce((sum, r) => sum + cents(r[header.indexOf('total_cost')]), 0n);
      if (total !== cents(reportTotal)) throw new Error(`CSV (${label}) total_cost sums to ${total} cents, the report says ${reportTotal}`);
      if (total !== cents(preview)) throw new Error(`CSV (${label}) total ${total} cents differs from the preview ${preview}`);
      if (!lines.some((r) => r[header.indexOf('user')] === 'alice' && r[header.indexOf('workspace_name')] === name)) {
        throw new Error(`CSV (${label}) has no line for alice's workspace`);
      }
      console.log(`    ${file}: ${lines.length} lines, total_cost sum ${reportTotal} = report total`);
    }
    await fiona.getByLabel('Cost centre').selectOption('CC-ONCOLOGY');
    await fiona.locator('tr[data-user="alice"]').waitFor();
    const filtered = await fiona.getByTestId('finance-total').getAttribute('data-amount');
    if (cents(filtered) !== cents(aliceTotal)) throw new Error(`CC-ONCOLOGY preview ${filtered} differs from alice's total ${aliceTotal}`);
    if ((await fiona.locator('tr[data-user="bob"]').count()) !== 0) throw new Error('bob (CC-CARDIOLOGY) is in the CC-ONCOLOGY preview');
  });
  await step('the finance screen in French, on a small laptop screen', async () => {
    await fiona.getByLabel('Language').selectOption('fr');
    await fiona.getByRole('heading', { name: 'Export finance', level: 1 }).waitFor();
    await fiona.getByRole('button', { name: 'Télécharger le CSV' }).waitFor();
    await axe(fiona, 'finance (fr)');
    await shot(fiona, '12-finance-fr-1024');
  });
  await fionaContext.close();
}

const started = Date.now();
try {
  await main();
  console.log(`e2e: ${passed} steps passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`screenshots: ${results}`);
} catch (e) {
  failures.push(e);
  console.error(`e2e FAILED at step "${e.step ?? '?'}": ${e instanceof Error ? e.message : e}`);
  console.error(`(${passed} steps passed before; dev server log: frontend/test-results/dev-server.log)`);
} finally {
  await browser?.close().catch(() => {});
  stopServer();
}
process.exit(failures.length ? 1 : 0);
