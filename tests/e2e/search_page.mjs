// End-to-end test of the search page in a real (headless) Chromium, driven by playwright-core.
//
//   node tests/e2e/search_page.mjs <base_url> <out_dir> <photo_path> [voice_wav]
//
// Checks autocomplete, text search, facets + filter chips, sorting, photo search, shopper
// events and personalization, optionally voice search (Chromium's fake microphone plays
// voice_wav), then writes <out_dir>/search_page.png (full page, after a text search), opens the
// analytics page (plots of the searches just made) and writes <out_dir>/analytics_page.png and
// <out_dir>/e2e_report.json. Exits non-zero with a message on the first failed check.
// Chromium: $CHROMIUM or /usr/bin/chromium (playwright-core downloads no browsers).
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [baseArg, outDir, photoPath, wavPath] = process.argv.slice(2);
if (!baseArg || !outDir || !photoPath) {
  console.error('usage: node tests/e2e/search_page.mjs <base_url> <out_dir> <photo_path> [voice_wav]');
  process.exit(2);
}
const BASE = baseArg.endsWith('/') ? baseArg : baseArg + '/';
const EXE = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_TIMEOUT = 30_000;
const VOICE_TIMEOUT = 120_000; // the first voice query loads the speech model

const report = { base_url: BASE, browser: null, started: new Date().toISOString(), ok: false, checks: [], skipped: [],
  page_errors: [], console_errors: [], screenshot: null, duration_s: null };
const t0 = Date.now();

function log(msg) { console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}`); }
class CheckFailed extends Error {}
function check(name, ok, detail = {}) {
  report.checks.push({ name, ok: !!ok, ...detail });
  if (!ok) throw new CheckFailed(`${name} — ${JSON.stringify(detail)}`);
  log(`ok   ${name}${detail.info ? ' (' + detail.info + ')' : ''}`);
}
function skip(name, reason) { report.skipped.push({ name, reason }); log(`SKIP ${name}: ${reason}`); }

const isSearch = (r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith('/search');
const isEvents = (r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith('/events');

async function main() {
  if (!existsSync(EXE)) throw new CheckFailed(`Chromium not found at ${EXE} (set CHROMIUM)`);
  if (!existsSync(photoPath)) throw new CheckFailed(`photo not found: ${photoPath}`);
  mkdirSync(outDir, { recursive: true });
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
    '--no-first-run', '--disable-component-update', '--disable-sync'];
  const voice = wavPath && existsSync(wavPath);
  if (wavPath && !voice) skip('voice search', `WAV file not found: ${wavPath}`);
  if (voice) {
    // Chromium's fake capture device plays the WAV as the microphone (%noloop: once, then silence).
    args.push('--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${path.resolve(wavPath)}%noloop`);
  }
  const browser = await chromium.launch({ executablePath: EXE, args });
  try {
    report.browser = `chromium ${browser.version()}`;
    log(`launched ${report.browser}`);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    if (voice) await context.grantPermissions(['microphone'], { origin: new URL(BASE).origin });
    // CSP violations (an inline script or handler the policy blocks) are recorded as they happen.
    await context.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT);
    page.on('pageerror', (e) => { report.page_errors.push(String(e)); log(`page error: ${e}`); });
    page.on('console', (m) => { if (m.type() === 'error') report.console_errors.push(m.text()); });

    // Runs `action`, waits for the POST /search it causes and for the page to render it.
    async function searched(action, what, timeout = STEP_TIMEOUT) {
      const [resp] = await Promise.all([page.waitForResponse(isSearch, { timeout }), action()]);
      const body = await resp.json().catch(() => null);
      if (resp.status() !== 200) throw new CheckFailed(`${what}: POST /search answered ${resp.status()}: ${JSON.stringify(body)}`);
      await page.waitForFunction(() => !document.getElementById('results').classList.contains('loading'));
      return body;
    }
    const cardIds = () => page.$$eval('.result-card', (cs) => cs.map((c) => c.dataset.id));
    async function firstImageLoaded() {
      await page.waitForFunction(() => {
        const im = document.querySelector('.result-card img');
        return im && im.complete && im.naturalWidth > 0;
      });
      return page.$eval('.result-card img', (im) => ({ w: im.naturalWidth, h: im.naturalHeight, src: im.getAttribute('src') }));
    }

    // ---------------------------------------------------------------- page loads
    log(`open ${BASE}`);
    const resp = await page.goto(BASE, { waitUntil: 'domcontentloaded' });
    check('page loads', resp && resp.status() === 200, { status: resp && resp.status() });
    await page.waitForFunction(() => !/connecting/.test(document.getElementById('health').textContent));
    const health = await page.textContent('#health');
    check('health shown', /products/.test(health), { info: health.trim() });
    for (const sel of ['#q', '#suggestions', '#search-btn', '#photo', '#mic', '#results', '#facets', '#sort', '#user',
      '#personalize', '#understood', '#transcript', '#status']) {
      if (!(await page.$(sel))) throw new CheckFailed(`element ${sel} missing`);
    }
    check('all test ids present', true);

    // ---------------------------------------------------------------- empty search: error in #status
    await page.click('#search-btn');
    await page.waitForSelector('#status.error');
    const emptyMsg = await page.textContent('#status');
    check('empty search explains itself in #status', /Type a query/.test(emptyMsg), { info: emptyMsg.trim().slice(0, 60) });

    // ---------------------------------------------------------------- autocomplete
    log('autocomplete: type "back"');
    await page.click('#q');
    await page.locator('#q').pressSequentially('back', { delay: 60 });
    await page.waitForSelector('#suggestions li', { state: 'visible' });
    const sugg = await page.$$eval('#suggestions li', (ls) => ls.map((l) => ({ kind: l.dataset.kind, text: l.querySelector('.s-text').textContent })));
    check('autocomplete shows suggestions', sugg.length >= 1 && sugg.some((s) => /back/i.test(s.text)), { info: `${sugg.length}: ${sugg.map((s) => s.text).slice(0, 3).join(' | ')}`, suggestions: sugg });
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    const active = await page.$eval('#suggestions li.active', (l) => l.dataset.index);
    check('arrow keys move through suggestions', active === '1', { active });
    const catSugg = sugg.find((x) => x.kind === 'category');
    check('a category suggestion reads as a path', !catSugg || /›/.test(catSugg.text), { info: catSugg ? catSugg.text : 'none offered' });
    await page.keyboard.press('Escape');
    await page.waitForSelector('#suggestions', { state: 'hidden' });
    check('Escape closes suggestions', true);
    await page.keyboard.press('ArrowDown');  // reopens them
    await page.waitForSelector('#suggestions li[data-kind="product"]', { state: 'visible' });
    await page.click('#suggestions li[data-kind="product"] >> nth=0');
    await page.waitForSelector('#detail:not([hidden]) h2');
    check('clicking a product suggestion opens the product', true, { info: (await page.textContent('#detail h2')).trim() });
    await page.keyboard.press('Escape');
    await page.waitForSelector('#detail', { state: 'hidden' });

    // ---------------------------------------------------------------- text search
    log('search "red backpack"');
    await page.fill('#q', 'red backpack');
    let data = await searched(() => page.press('#q', 'Enter'), 'text search');
    await page.waitForSelector('.result-card');
    let ids = await cardIds();
    check('text search shows result cards', ids.length >= 1, { info: `${ids.length} cards, first ${ids[0]}`, first: ids[0] });
    const img = await firstImageLoaded();
    check('first card image loaded', img.w > 0, { info: `${img.w}x${img.h} ${img.src}` });
    const understood = await page.textContent('#understood');
    check('understood chips show the parsed colour', /red/.test(understood), { info: understood.trim(), parsed: data.parsed });
    const shownMs = (await page.textContent('[data-testid="latency"]')).trim();
    check('latency shown is the server total', shownMs === `${data.timings_ms.total.toFixed(0)} ms`,
      { info: `${shownMs}; timings ${JSON.stringify(data.timings_ms)}` });
    const nMatch = data.results.filter((r) => r.match).length;
    const catSum = (data.facets.category || []).reduce((a, f) => a + f.count, 0);
    const status = (await page.textContent('#status')).replace(/\s+/g, ' ');
    check('"N results" counts the matches, as the facets do', status.startsWith(`${nMatch} result`) && catSum === data.matches &&
      nMatch === Math.min(data.matches, data.results.length), { info: `${status.slice(0, 70)}; facets ${catSum}, matches ${data.matches}` });
    const padding = data.results.filter((r) => !r.match).map((r) => r.id);
    const afterDivider = await page.$$eval('.more-divider ~ .result-card', (cs) => cs.map((c) => c.dataset.id));
    check('padding is shown apart, after "More products"', JSON.stringify(afterDivider) === JSON.stringify(padding) &&
      ((await page.$('.more-divider')) !== null) === (padding.length > 0), { info: `${padding.length} after the divider` });
    const explainReq = data.results.every((r) => r.explanation && Object.keys(r.explanation).length > 0);
    if (!(await page.locator('.result-card').first().locator('details.why').evaluate((d) => d.open))) {
      await page.locator('.result-card').first().locator('details.why > summary').click();
    }
    const nbars = await page.locator('.result-card').first().locator('.bar:visible').count();
    check('"why this result" shows explanation bars', explainReq && nbars > 0, { bars: nbars });

    // ---------------------------------------------------------------- facets
    const colors = await page.$$eval('.facet-value[data-facet="color"]', (bs) => bs.map((b) => ({ value: b.dataset.value, count: b.querySelector('.cnt').textContent })));
    check('colour facet with counts', colors.length >= 1 && colors.every((c) => /^\d+$/.test(c.count)), { info: colors.map((c) => `${c.value}:${c.count}`).join(' '), colors });
    const pick = (colors.find((c) => c.value === 'red') || colors[0]).value;
    log(`click colour facet "${pick}"`);
    const before = ids;
    data = await searched(() => page.click(`.facet-value[data-facet="color"][data-value="${pick}"]`), 'colour facet');
    ids = await cardIds();
    const chipText = await page.textContent('#active-filters');
    check('colour facet filters the results', ids.length >= 1 && JSON.stringify(ids) !== JSON.stringify(before),
      { info: `${before.length} -> ${ids.length} cards`, before: before.length, after: ids.length });
    check('active filter chip shows the colour', chipText.includes(pick) &&
      (await page.$(`#active-filters .fchip[data-filter="color:${pick}"]`)) !== null, { info: chipText.trim() });
    check('facet value marked active', (await page.$(`.facet-value.active[data-facet="color"][data-value="${pick}"]`)) !== null);
    log('remove the chip');
    data = await searched(() => page.click(`#active-filters .fchip[data-filter="color:${pick}"] button`), 'remove chip');
    check('removing the chip removes the filter', (await page.$('#active-filters .fchip')) === null && (await cardIds()).length === before.length,
      { info: `${(await cardIds()).length} cards` });

    // ---------------------------------------------------------------- sort
    log('sort by price low -> high');
    data = await searched(() => page.selectOption('#sort', 'price_asc'), 'sort');
    const prices = await page.$$eval('.result-card', (cs) => cs.map((c) => c.dataset.price).filter((p) => p !== '').map(Number));
    const sorted = prices.every((p, i) => i === 0 || prices[i - 1] <= p);
    check('prices non-decreasing after sort', prices.length >= 2 && sorted && data.sort === 'price_asc', { info: prices.join(', '), prices });
    data = await searched(() => page.selectOption('#sort', 'relevance'), 'sort back');

    // ---------------------------------------------------------------- photo
    log(`photo search with ${path.basename(photoPath)}`);
    await page.fill('#q', '');
    data = await searched(() => page.setInputFiles('#photo', photoPath), 'photo search');
    await page.waitForSelector('.result-card');
    ids = await cardIds();
    const labels = (data.photo_labels || []).map((l) => l[0]);
    check('photo search shows results', ids.length >= 1 && data.retrievers.includes('image'),
      { info: `${ids.length} cards, first ${ids[0]}, photo looks like ${labels.slice(0, 2).join(', ')}`, first: ids[0], photo_labels: labels.slice(0, 3) });
    // Photo chips appear only for labels the classifier is sure of (the API leaves the rest out).
    const photoChips = await page.textContent('#understood');
    check('photo preview shown, photo chips only for confident labels', await page.isVisible('#photo-preview') &&
      /photo:/.test(photoChips) === labels.length > 0, { info: `${labels.length} labels; ${photoChips.trim()}` });
    const photoCats = (data.facets.category || []).map((f) => f.count);
    check('photo facets count what looks alike', data.matches < data.candidates && photoCats.reduce((a, n) => a + n, 0) === data.matches,
      { info: `${data.matches} matches of ${data.candidates}: ${(data.facets.category || []).map((f) => `${f.value}:${f.count}`).join(' ')}` });
    await page.click('#photo-clear');
    await page.waitForSelector('#photo-chosen', { state: 'hidden' });

    // ---------------------------------------------------------------- shopper + personalization
    log('shopper alice');
    await page.fill('#q', 'backpack');
    data = await searched(() => page.click('#search-btn'), 'search backpack');
    data = await searched(() => page.selectOption('#user', 'alice'), 'switch user');
    check('search carries the shopper', data.user_id === 'alice', { user_id: data.user_id, profile_events: data.profile_events });
    await page.waitForSelector('#profile:not([hidden])');
    const startEvents = data.profile_events;
    const target = (await cardIds())[1] || (await cardIds())[0];
    log(`click the title of ${target}`);
    const [evResp, afterClick] = await Promise.all([
      page.waitForResponse(isEvents),
      searched(() => page.click(`.result-card[data-id="${target}"] .title`), 'search after click'),
    ]);
    const evBody = await evResp.json();
    check('click posts an event', evResp.status() === 200 && evBody.accepted === 1, { status: evResp.status(), body: evBody });
    const sent = JSON.parse(evResp.request().postData()).events[0];
    const shownAt = (await cardIds()).indexOf(target) + 1;
    check('the click names its search and position', sent.search_id === data.search_id && sent.position >= 1 && sent.session_id,
      { search_id: sent.search_id, expected: data.search_id, position: sent.position, card: shownAt });
    check('search re-runs personalized', afterClick.personalized === true && afterClick.profile_events === startEvents + 1,
      { personalized: afterClick.personalized, profile_events: afterClick.profile_events });
    await page.waitForFunction(() => /Personalized for alice/.test(document.getElementById('personalized').textContent));
    const pnote = await page.textContent('#personalized');
    check('"personalized for alice" shown', true, { info: pnote.trim() });
    await page.waitForSelector('#detail:not([hidden]) h2');
    check('product detail opens', true, { info: (await page.textContent('#detail h2')).trim() });
    await page.keyboard.press('Escape');
    await page.waitForSelector('#detail', { state: 'hidden' });
    const cartTarget = (await cardIds())[0];
    log(`add ${cartTarget} to the cart`);
    const [cartResp, afterCart] = await Promise.all([
      page.waitForResponse(isEvents),
      searched(() => page.click(`.result-card[data-id="${cartTarget}"] .btn-cart`), 'search after cart'),
    ]);
    check('add to cart posts a cart event', cartResp.status() === 200 && afterCart.profile_events === startEvents + 2,
      { profile_events: afterCart.profile_events });
    await page.waitForFunction((n) => (document.getElementById('profile-events') || {}).textContent === `${n} events`, startEvents + 2);
    const prof = await page.textContent('#profile');
    check('profile panel shows events and affinities', /events/.test(prof) && (await page.$$('#profile .aff')).length > 0,
      { info: prof.replace(/\s+/g, ' ').trim().slice(0, 90) });

    // ---------------------------------------------------------------- voice
    if (voice) {
      log('voice search: record ~3 s from the fake microphone');
      await page.fill('#q', '');
      const voiceData = await searched(async () => {
        await page.click('#mic');
        await page.waitForSelector('#mic.recording', { timeout: 10_000 });
        await page.waitForTimeout(3000);
        await page.click('#mic');
      }, 'voice search', VOICE_TIMEOUT);
      await page.waitForSelector('#transcript:not([hidden])');
      const heard = (await page.textContent('#transcript')).trim();
      // The recording through the fake microphone may come out unclear: the page must then say
      // so instead of searching what the recognizer guessed (how well it hears: test_http.py).
      const t = voiceData.transcript || {};
      check('voice search shows the transcript, or that it was not caught', t.understood === false
        ? /didn't catch that/.test(heard) && !/heard:/.test(heard) && voiceData.query === null
        : /heard:/.test(heard) && (t.text || '').trim() !== '', { info: heard, transcript: t });
      report.voice = { transcript: voiceData.transcript, first: (voiceData.results[0] || {}).id };
    } else if (!wavPath) {
      skip('voice search', process.env.E2E_VOICE_SKIP || 'no WAV given (4th argument)');
    }

    // ---------------------------------------------------------------- final text search + screenshot
    log('final search "red backpack" for the screenshot');
    await page.fill('#q', 'red backpack');
    data = await searched(() => page.click('#search-btn'), 'final search');
    await page.waitForFunction(() => Array.from(document.querySelectorAll('.result-card img')).every((im) => im.complete && im.naturalWidth > 0));
    await page.locator('.result-card').first().locator('details.why').evaluate((d) => { d.open = true; });
    await page.waitForSelector('#toast', { state: 'hidden', timeout: 10_000 });
    await page.mouse.move(0, 0);
    await page.evaluate(() => window.scrollTo(0, 0));
    const shot = path.join(outDir, 'search_page.png');
    await page.screenshot({ path: shot, fullPage: true });
    report.screenshot = shot;
    check('screenshot written', existsSync(shot), { info: shot });
    check('no uncaught page errors', report.page_errors.length === 0, { page_errors: report.page_errors });
    const csp = await page.evaluate(() => window.__cspViolations);
    const cspConsole = report.console_errors.filter((m) => /Content Security Policy/i.test(m));
    check('no CSP violations on the search page', csp.length === 0 && cspConsole.length === 0, { violations: csp, console: cspConsole });

    // ---------------------------------------------------------------- "Similar" clears the search's context
    log('"Similar" on the first card');
    const simTitle = await page.locator('.result-card').first().locator('.btn-similar').getAttribute('data-title');
    await page.locator('.result-card').first().locator('.btn-similar').click();
    await page.waitForFunction(() => /Similar to/.test(document.getElementById('status').textContent));
    await page.waitForFunction(() => !document.getElementById('results').classList.contains('loading'));
    const ctx = await page.evaluate(() => ({ understood: document.getElementById('understood').textContent.trim(),
      facets: document.querySelectorAll('#facets .facet-value').length, filters: !document.getElementById('active-filters').hidden }));
    check('"Similar" clears the facets and "Understood" chips', ctx.understood === '' && ctx.facets === 0 && !ctx.filters,
      { info: `similar to ${simTitle}`, ...ctx });
    await searched(() => page.click('#back-to-results'), 'back to results');
    check('back to results restores the facets', (await page.$$('#facets .facet-value')).length > 0);

    // ---------------------------------------------------------------- modality weights
    // The demo serves a feature ranker; the attention ranker's per-modality weights (the API's
    // "modality_weights") are put into one search response to check that the panel shows them.
    log('"why this result" with an attention ranker\'s modality weights');
    const weigh = async (route) => {
      const resp = await route.fetch();
      const body = await resp.json();
      if (body.results && body.results[0]) body.results[0].modality_weights = { image: 0.52, text: 0.31, review: 0.17 };
      await route.fulfill({ response: resp, json: body });
    };
    await page.route('**/search', weigh);
    await searched(() => page.click('#search-btn'), 'search with modality weights');
    await page.unroute('**/search', weigh);
    await page.locator('.result-card').first().locator('details.why').evaluate((d) => { d.open = true; });
    const mw = (await page.locator('.result-card').first().locator('[data-testid="modality-weights"]').textContent()).replace(/\s+/g, ' ');
    check('"why this result" shows the modality weights, largest first', /photo 0\.52.*text 0\.31.*reviews 0\.17/.test(mw), { info: mw.trim() });

    // ---------------------------------------------------------------- analytics page
    log('the analytics page');
    await page.goto(BASE + 'analytics');
    await page.waitForFunction(() => document.querySelectorAll('#plots img[data-plot]').length >= 5);
    await page.waitForFunction(() => Array.from(document.querySelectorAll('#plots img')).every((im) => im.complete && im.naturalWidth > 0));
    const plots = await page.$$eval('#plots img[data-plot]', (ims) => ims.map((im) => im.getAttribute('data-plot')));
    const kpi = (await page.textContent('#kpis')).replace(/\s+/g, ' ').trim();
    const searches = parseInt(kpi, 10);
    check('analytics page shows its plots and the searches made', plots.includes('searches_over_time') && plots.includes('click_positions') && searches >= 5,
      { info: `${plots.length} plots; ${kpi.slice(0, 80)}` });
    const ashot = path.join(outDir, 'analytics_page.png');
    await page.screenshot({ path: ashot, fullPage: true });
    report.analytics_screenshot = ashot;
    check('analytics screenshot written', existsSync(ashot), { info: ashot });
    check('no uncaught page errors on the analytics page', report.page_errors.length === 0, { page_errors: report.page_errors });
    const cspAnalytics = await page.evaluate(() => window.__cspViolations);
    check('no CSP violations on the analytics page', cspAnalytics.length === 0, { violations: cspAnalytics });

    // ---------------------------------------------------------------- 390 px wide
    log('390 px wide');
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 } });
    await phone.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const small = await phone.newPage();
    small.setDefaultTimeout(STEP_TIMEOUT);
    small.on('pageerror', (e) => { report.page_errors.push(String(e)); log(`page error: ${e}`); });
    await small.goto(BASE + '?q=red%20backpack', { waitUntil: 'domcontentloaded' });
    await small.waitForSelector('.result-card img');
    await small.waitForFunction(() => Array.from(document.querySelectorAll('.result-card img')).slice(0, 2).every((im) => im.complete));
    const firstTop = await small.$eval('.result-card', (c) => c.getBoundingClientRect().top);
    check('at 390 px the filters are folded and results start on the first screen', !(await small.isVisible('#facets')) && firstTop < 844,
      { info: `first card at ${Math.round(firstTop)} px` });
    const phoneShot = path.join(outDir, 'search_page_390.png');
    await small.screenshot({ path: phoneShot });
    await small.click('#filters-toggle');
    check('the toggle shows the filters', await small.isVisible('#facets .facet-value >> nth=0'));
    await small.screenshot({ path: path.join(outDir, 'search_page_390_filters.png') });
    const cspSmall = await small.evaluate(() => window.__cspViolations);
    check('no CSP violations at 390 px', cspSmall.length === 0, { violations: cspSmall });
    await phone.close();
    await context.close();
  } finally {
    await browser.close();
  }
}

let code = 0;
try {
  await main();
  report.ok = true;
  log(`PASSED ${report.checks.length} checks` + (report.skipped.length ? `, skipped: ${report.skipped.map((s) => s.name).join(', ')}` : ''));
} catch (e) {
  code = 1;
  report.error = e instanceof CheckFailed ? e.message : (e && e.stack) || String(e);
  console.error(`E2E FAILED: ${report.error}`);
} finally {
  report.duration_s = Math.round((Date.now() - t0) / 100) / 10;
  try {
    mkdirSync(outDir, { recursive: true });
    writeFileSync(path.join(outDir, 'e2e_report.json'), JSON.stringify(report, null, 2));
  } catch (e) { console.error(`could not write the report: ${e}`); code = 1; }
}
process.exit(code);
