// The Chromium driver of tests/flame_browser.sh: opens a flame graph in Debian's headless Chromium
// (through playwright-core, never a downloaded browser), takes a screenshot and checks what was
// drawn. Prints one line per check, "PASS what" or "FAIL what: why", and exits 1 when a check
// failed, 2 when it could not run.
//
//   node flame.mjs grafana --dist DIR --frame FILE [--expect FILE] [--unit UNIT] --png FILE
//       serves DIR (the page built by `vite build`) and FILE as /frame.json on 127.0.0.1, and
//       checks the page against the rows of --expect (default: FILE): the panel took the frame,
//       no error on the page, the root and every frame wide enough for a label drawn at its
//       place on the canvas and nothing else, the widest top frames among them, the top table
//       listing the largest self values, a tooltip naming the frame under the mouse, and a
//       screenshot that is not blank. UNIT: the values' unit in Grafana's terms (e.g. ns).
//   node flame.mjs svg --svg FILE --labels A,B,... --png FILE
//       opens the SVG and checks it is an SVG document and not Chromium's XML error page, that
//       it has boxes of non-zero width, that the names A, B, ... are among its titles and that
//       its screenshot is colourful.
//   node flame.mjs top --frame FILE
//       prints the labels of the top frames the grafana check looks for, comma-separated.
//
// FILE rows: a JSON array of {level, value, self, label} in depth-first pre-order, as
// cprof.flame_graph returns them. CHROMIUM names the browser (default /usr/bin/chromium).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';

// The flame graph component's drawing constants at device pixel ratio 1
// (@grafana/flamegraph's constants.mjs).
const PIXELS_PER_LEVEL = 22;
const LABEL_THRESHOLD = 20;
const MUTE_THRESHOLD = 10;
const BAR_BORDER_WIDTH = 0.5;
const BAR_TEXT_PADDING_LEFT = 4;

// The flags that keep Chromium quiet on a closed network; playwright-core adds --headless and a
// fresh, empty --user-data-dir of its own.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT_MS = 30000;

let failed = 0;
function check(what, passed, why) {
  if (passed) {
    console.log(`PASS ${what}`);
  } else {
    failed++;
    console.log(`FAIL ${what}: ${why}`);
  }
  return passed;
}

function options(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) {
      throw new Error(`bad argument ${argv[i]}`);
    }
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}

async function launch() {
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) {
    throw new Error(`${executablePath} missing: install Debian's chromium (deploy/install-deps.sh)`);
  }
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: TIMEOUT_MS });
}

// A static server on 127.0.0.1 (a free port): DIR's files and /frame.json.
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json',
  '.ttf': 'font/ttf', '.woff2': 'font/woff2', '.svg': 'image/svg+xml' };
function serve(dir, frameFile) {
  const root = path.resolve(dir);
  const server = http.createServer((req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = urlPath === '/frame.json' ? frameFile
      : path.join(root, urlPath === '/' ? 'index.html' : path.normalize(urlPath));
    if (urlPath !== '/frame.json' && !file.startsWith(root + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    fs.readFile(file, (err, body) => {
      if (err) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream' }).end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// Pixels of a PNG inside a rectangle: how many differ from the background colour (the
// rectangle's most common colour) and how many distinct colours there are.
function pixelStats(pngBytes, rect) {
  const png = PNG.sync.read(pngBytes);
  const x0 = Math.max(0, Math.floor(rect.x)), y0 = Math.max(0, Math.floor(rect.y));
  const x1 = Math.min(png.width, Math.ceil(rect.x + rect.width));
  const y1 = Math.min(png.height, Math.ceil(rect.y + rect.height));
  const counts = new Map();
  let colourful = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * png.width + x) * 4;
      const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
      const key = (r << 16) | (g << 8) | b;
      counts.set(key, (counts.get(key) || 0) + 1);
      if (Math.max(r, g, b) - Math.min(r, g, b) > 40) colourful++; // saturated, not grey/white/black
    }
  }
  const total = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const background = Math.max(0, ...counts.values());
  return { total, distinct: counts.size, foreground: total - background, colourful };
}

// Where the component must draw each row: its start (sum of the values of the siblings before it
// under its parent) and its width, from the pre-order rows alone.
function layout(rows, canvasWidth) {
  const total = rows[0].value;
  const pixelsPerTick = canvasWidth / total;
  const stack = [];
  return rows.map((row) => {
    stack.length = row.level;
    const parent = stack[row.level - 1];
    const start = parent ? parent.next : 0;
    if (parent) parent.next += row.value;
    const node = { ...row, start, next: start };
    stack.push(node);
    const muted = row.value * pixelsPerTick <= MUTE_THRESHOLD;
    node.width = row.value * pixelsPerTick - (muted ? 0 : BAR_BORDER_WIDTH * 2);
    node.x = Math.max(start * pixelsPerTick, 0) + BAR_TEXT_PADDING_LEFT;
    node.y = row.level * PIXELS_PER_LEVEL + PIXELS_PER_LEVEL / 2 + 2;
    node.labelled = !muted && node.width >= LABEL_THRESHOLD;
    node.doubtful = Math.abs(node.width - LABEL_THRESHOLD) < 1 || Math.abs(row.value * pixelsPerTick - MUTE_THRESHOLD) < 1;
    return node;
  });
}

// The top frames of pre-order rows: the widest under the root, down to level 4, at a tenth of the
// total or more; at most 6.
function topFrames(rows) {
  return rows.filter((n) => n.level >= 1 && n.level <= 4 && n.value * 10 >= rows[0].value)
    .sort((a, b) => b.value - a.value).slice(0, 6);
}

// Records the text the flame graph canvas draws, from its last full clear on.
function recordCanvasText() {
  const isFlame = (ctx) => ctx.canvas && ctx.canvas.dataset && ctx.canvas.dataset.testid === 'flameGraph';
  const proto = CanvasRenderingContext2D.prototype;
  const fillText = proto.fillText, clearRect = proto.clearRect;
  window.cprofDrawn = [];
  window.cprofDraws = 0;
  proto.fillText = function (text, x, y, ...rest) {
    if (isFlame(this)) window.cprofDrawn.push({ text: String(text), x, y });
    return fillText.call(this, text, x, y, ...rest);
  };
  proto.clearRect = function (x, y, w, h) {
    if (isFlame(this) && x <= 0 && y <= 0 && w >= this.canvas.width && h >= this.canvas.height) {
      window.cprofDrawn = [];
      window.cprofDraws++;
    }
    return clearRect.call(this, x, y, w, h);
  };
}

async function grafana(opt) {
  const rows = JSON.parse(fs.readFileSync(opt.expect || opt.frame, 'utf8'));
  if (!Array.isArray(rows) || !rows.length || rows[0].level !== 0) {
    throw new Error('the expected rows do not start with a root');
  }
  const server = await serve(opt.dist, opt.frame);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 }, deviceScaleFactor: 1 });
    // Errors, except a missing icon the npm package of @grafana/ui does not ship (a Grafana
    // server has them all): those are only counted.
    const errors = [], outside = [], missingIcons = new Set();
    const iconMissing = (url) => url.startsWith(`${origin}/public/build/img/icons/`) &&
      !fs.existsSync(path.join(opt.dist, new URL(url).pathname));
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      if (iconMissing(m.location().url || '')) missingIcons.add(m.location().url);
      else errors.push(`console error: ${m.text()}`);
    });
    page.on('response', (r) => {
      if (r.status() < 400) return;
      if (iconMissing(r.url())) missingIcons.add(r.url());
      else errors.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    await page.route('**/*', (route) => {
      if (route.request().url().startsWith(origin + '/')) return route.continue();
      outside.push(route.request().url());
      return route.abort();
    });
    await page.addInitScript(recordCanvasText);
    await page.goto(`${origin}/index.html${opt.unit ? `?unit=${encodeURIComponent(opt.unit)}` : ''}`,
      { timeout: TIMEOUT_MS });
    await page.waitForFunction(() => window.cprofPage && (window.cprofPage.state !== 'rendered' || window.cprofDraws > 0),
      null, { timeout: TIMEOUT_MS });
    // settled: no new drawing for half a second
    let draws = -1;
    for (let i = 0; i < 40; i++) {
      const now = await page.evaluate(() => window.cprofDraws);
      if (now === draws) break;
      draws = now;
      await page.waitForTimeout(500);
    }
    const seen = await page.evaluate(() => {
      const canvas = document.querySelector('canvas[data-testid="flameGraph"]');
      const box = canvas && canvas.getBoundingClientRect();
      const table = document.querySelector('[data-testid="topTable"]');
      return {
        state: window.cprofPage.state,
        message: window.cprofPage.message || '',
        drawn: window.cprofDrawn,
        canvas: box && { x: box.x, y: box.y, width: box.width, height: box.height },
        table: table ? table.innerText : null,
      };
    });
    await page.screenshot({ path: opt.png, fullPage: true });

    if (!check('the panel took the frame', seen.state === 'rendered', `${seen.state}: ${seen.message}`)) {
      return;
    }
    check(`no error on the page${missingIcons.size ? ` (icons not in @grafana/ui's package: ${[...missingIcons]
      .map((u) => path.basename(u)).join(', ')})` : ''}`, errors.length === 0, errors.slice(0, 3).join('; '));
    check('no request leaves the page\'s server', outside.length === 0, outside.slice(0, 3).join(' '));
    if (!check('a flame graph canvas', seen.canvas && seen.canvas.width > 100, JSON.stringify(seen.canvas))) {
      return;
    }
    const nodes = layout(rows, seen.canvas.width);
    const drawnAt = (node) => seen.drawn.find((d) => d.text.startsWith(`${node.label} (`) &&
      Math.abs(d.x - node.x) <= 1 && Math.abs(d.y - node.y) <= 0.5);
    check('the root "total" drawn across the top', drawnAt(nodes[0]),
      `drawn: ${JSON.stringify(seen.drawn.slice(0, 3))}`);

    const top = topFrames(nodes);
    const missingTop = top.filter((n) => !drawnAt(n));
    check(`the top frames drawn at their places (${top.map((n) => n.label).join(', ')})`,
      top.length > 0 && missingTop.length === 0,
      top.length ? `not drawn: ${missingTop.map((n) => `${n.label} at level ${n.level}`).join(', ')}` : 'no top frame');

    const labelled = nodes.filter((n) => n.labelled && !n.doubtful);
    const missing = labelled.filter((n) => !drawnAt(n));
    check(`every frame wide enough drawn at its place (${labelled.length} of ${nodes.length})`,
      labelled.length > 1 && missing.length === 0,
      `${missing.length} not drawn, e.g. ${missing.slice(0, 3).map((n) => `${n.label} at level ${n.level}`).join(', ')}`);
    const allowed = nodes.filter((n) => n.labelled || n.doubtful);
    const extra = seen.drawn.filter((d) => !allowed.some((n) => d.text.startsWith(`${n.label} (`) &&
      Math.abs(d.x - n.x) <= 1 && Math.abs(d.y - n.y) <= 0.5));
    check('nothing else drawn', extra.length === 0,
      `${extra.length} unexpected labels, e.g. ${JSON.stringify(extra.slice(0, 3))}`);

    // the top table: the largest self values by function, as the table sorts them
    const selfByLabel = new Map();
    for (const n of nodes) selfByLabel.set(n.label, (selfByLabel.get(n.label) || 0) + n.self);
    const topSelf = [...selfByLabel].filter(([, s]) => s > 0).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([l]) => l);
    const tableLines = (seen.table || '').split('\n').map((s) => s.trim());
    const notListed = topSelf.filter((l) => !tableLines.includes(l));
    check(`the top table lists the largest self values (${topSelf.join(', ')})`,
      seen.table !== null && topSelf.length > 0 && notListed.length === 0,
      seen.table === null ? 'no top table' : `not listed: ${notListed.join(', ')}`);

    // the tooltip names the widest frame under the root when the mouse is on it
    const widest = nodes.filter((n) => n.level === 1).sort((a, b) => b.value - a.value)[0];
    if (widest) {
      await page.mouse.move(seen.canvas.x + (widest.start + widest.value / 2) * seen.canvas.width / nodes[0].value,
        seen.canvas.y + widest.level * PIXELS_PER_LEVEL + PIXELS_PER_LEVEL / 2);
      const tip = await page.waitForFunction((label) => [...document.querySelectorAll('p')]
        .some((p) => p.innerText.split('\n')[0].trim() === label), widest.label, { timeout: 5000 })
        .then(() => true, () => false);
      check(`the tooltip names ${widest.label} under the mouse`, tip, 'no tooltip with that name');
    }

    const pixels = pixelStats(fs.readFileSync(opt.png), seen.canvas);
    check(`the screenshot shows coloured boxes (${pixels.distinct} colours, ${pixels.colourful} coloured pixels)`,
      pixels.distinct >= 8 && pixels.colourful * 10 >= pixels.total,
      `of ${pixels.total} pixels in the canvas`);
  } finally {
    await browser.close();
    server.close();
  }
}

async function svg(opt) {
  const labels = (opt.labels || '').split(',').filter(Boolean);
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, deviceScaleFactor: 1 });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`file://${path.resolve(opt.svg)}`, { timeout: TIMEOUT_MS });
    await page.screenshot({ path: opt.png });
    const seen = await page.evaluate(() => {
      const root = document.documentElement;
      const svgNs = 'http://www.w3.org/2000/svg';
      const rects = [...document.getElementsByTagNameNS(svgNs, 'rect')];
      return {
        root: `${root.namespaceURI} ${root.localName}`,
        parseError: document.getElementsByTagName('parsererror').length > 0 ||
          (document.body ? document.body.innerText : root.textContent).includes('This page contains the following errors'),
        boxes: rects.filter((r) => r.getBBox().width > 0 && r.getBoundingClientRect().width > 0).length,
        names: [...document.getElementsByTagNameNS(svgNs, 'title')].map((t) => t.textContent.replace(/ \([^()]*\)$/, '')),
        size: (() => { const b = root.getBoundingClientRect(); return { x: b.x, y: b.y, width: b.width, height: b.height }; })(),
      };
    });
    check('an SVG document', seen.root === 'http://www.w3.org/2000/svg svg', `the root is ${seen.root}`);
    check('no XML error page', !seen.parseError, 'Chromium shows "This page contains the following errors"');
    check('no script error', errors.length === 0, errors.slice(0, 3).join('; '));
    check(`boxes drawn (${seen.boxes})`, seen.boxes > 1, `${seen.boxes} boxes of non-zero width`);
    const missing = labels.filter((l) => !seen.names.includes(l));
    check(`the top frames named (${labels.join(', ')})`, labels.length > 0 && missing.length === 0,
      `missing: ${missing.join(', ')}`);
    const pixels = pixelStats(fs.readFileSync(opt.png), seen.size.width > 0 ? seen.size : { x: 0, y: 0, width: 1280, height: 1000 });
    check(`the screenshot shows coloured boxes (${pixels.distinct} colours, ${pixels.colourful} coloured pixels)`,
      pixels.distinct >= 8 && pixels.colourful * 20 >= pixels.total, `of ${pixels.total} pixels`);
  } finally {
    await browser.close();
  }
}

async function top(opt) {
  console.log(topFrames(JSON.parse(fs.readFileSync(opt.frame, 'utf8'))).map((n) => n.label).join(','));
}

const [command, ...rest] = process.argv.slice(2);
const commands = { grafana, svg, top };
try {
  if (!commands[command]) throw new Error('usage: node flame.mjs grafana|svg|top OPTIONS (see the file\'s header)');
  await commands[command](options(rest));
} catch (error) {
  console.log(`FAIL could not run: ${error.message}`);
  process.exit(2);
}
process.exit(failed ? 1 : 0);
