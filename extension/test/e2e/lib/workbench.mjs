// The workbench around the editors: opening it, the command palette, tabs, the status bar and
// notifications, and waiting for an analysis to finish.
import { live } from './processes.mjs';
import { escapeRe, log, sleep, waitFor } from './util.mjs';

export async function openWorkbench(ctx, url, folder) {
  const page = await ctx.newPage();
  live.page = page;
  page.setDefaultTimeout(30000);
  const consoleLog = [];
  page.on('console', (m) => { if (m.type() === 'error' || /atten/i.test(m.text())) consoleLog.push(`[${m.type()}] ${m.text()}`); });
  page.on('pageerror', (e) => consoleLog.push(`[pageerror] ${e.message}`));
  page.consoleLog = consoleLog;
  await page.goto(`${url}/?folder=${encodeURIComponent(folder)}`, { waitUntil: 'domcontentloaded', timeout: 60000 });
  await page.locator('.monaco-workbench').waitFor({ timeout: 90000 });
  await page.locator('.part.statusbar').waitFor({ timeout: 60000 });
  // The explorer shows the folder's files once the remote file system is connected.
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 90000 });
  return page;
}

// `keepSelection`: no Escape first (in an editor it would collapse the selection the command reads).
export async function runCommand(page, title, { keepSelection = false } = {}) {
  if (!keepSelection) await page.keyboard.press('Escape');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  // The palette opens on F1; where it does not take the text (focus was elsewhere, a hover in the
  // way), it is closed and opened once more.
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('F1');
    try {
      await input.waitFor({ state: 'visible', timeout: 15000 });
      await input.fill(`>${title}`, { timeout: 10000 });
      break;
    } catch (error) {
      if (attempt >= 2) throw error;
      await page.keyboard.press('Escape');
      await page.mouse.move(20, 700);
      await sleep(500);
    }
  }
  // Pick the row whose label is exactly the title (fuzzy matching may list others).
  const row = page.locator('.quick-input-widget .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^\\s*${escapeRe(title)}\\s*$`) }) }).first();
  try {
    await row.waitFor({ state: 'visible', timeout: 20000 });
  } catch {
    const rows = await page.locator('.quick-input-widget .monaco-list-row').allInnerTexts().catch(() => []);
    await page.keyboard.press('Escape');
    throw new Error(`command "${title}" is not in the command palette (rows: ${rows.map((r) => r.replace(/\s+/g, ' ')).join(' / ') || 'none'})`);
  }
  await row.click();
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10000 }).catch(() => {});
}

export async function closeTab(page, text) {
  const tab = page.locator('.tabs-container .tab', { hasText: text }).first();
  await tab.hover({ timeout: 5000 });
  await tab.locator('.codicon-close').first().click({ timeout: 5000 });
}

// Brings the tab whose label holds `text` to the front (nothing happens when there is none).
export async function focusTab(page, text) {
  await page.locator('.tabs-container .tab', { hasText: text }).first().click().catch(() => {});
  await page.mouse.move(20, 700); // off the tab: its hover (the file's path) would cover what lies below
}

// Status bar entries contributed by the extension (their ids start with the extension id).
export async function extensionStatus(page) {
  return page.locator('.part.statusbar .statusbar-item').evaluateAll((items) => items
    .filter((el) => /atten/i.test(`${el.id} ${el.textContent} ${el.getAttribute('aria-label') || ''}`))
    .map((el) => ({
      id: el.id,
      text: el.textContent.trim(),
      label: el.getAttribute('aria-label') || '',
      spinning: !!el.querySelector('.codicon-modifier-spin, .codicon-loading, [class*="~spin"]'),
    })));
}

export async function notifications(page) {
  return page.locator('.notifications-toasts .notification-toast, .notifications-center .notification-list-item').evaluateAll((els) => els.map((el) => ({
    text: el.innerText.replace(/\s+/g, ' ').trim(),
    error: !!el.querySelector('.codicon-error'),
    progress: !!el.querySelector('.monaco-progress-container.active, .progress-bit') && getComputedStyle(el).display !== 'none',
  })));
}

export const BUSY = /(analy[sz]ing|loading|starting|restarting|converting|\u2026|\.\.\.)/i;

// Waits until the extension reports a finished analysis: no spinner / busy word in its status bar
// entries and no Atten-Scope progress notification. Fails early on an Atten-Scope error toast.
export async function waitAnalysisDone(page, timeout) {
  let lastState = '';
  let seenBusy = false;
  const start = Date.now();
  await waitFor('analysis to finish', async () => {
    const st = await extensionStatus(page);
    const notes = await notifications(page);
    const err = notes.find((n) => n.error && /atten|python|model|server/i.test(n.text));
    if (err) throw Object.assign(new Error(`error notification: ${err.text}`), { fatal: true });
    const busyNote = notes.find((n) => /atten/i.test(n.text) && (n.progress || BUSY.test(n.text)));
    const busyStatus = st.find((s) => s.spinning || BUSY.test(s.text) || BUSY.test(s.label));
    const state = `${st.map((s) => `[${s.text}${s.label && s.label !== s.text ? ` | ${s.label}` : ''}]`).join(' ')}${busyNote ? ` + "${busyNote.text}"` : ''}`;
    if (state !== lastState) { log(`  status: ${state || '(no Atten-Scope status bar item)'}`); lastState = state; }
    if (busyNote || busyStatus) { seenBusy = true; return false; }
    // Without a busy phase seen, give the extension a moment to start showing progress.
    return st.length > 0 && (seenBusy || Date.now() - start > 5000) ? st : false;
  }, { timeout, interval: 500 }).catch((e) => { throw e; });
  return lastState;
}

export async function clearNotifications(page) {
  await runCommand(page, 'Notifications: Clear All Notifications').catch(() => {});
  await sleep(300);
}

// Waits for a notification whose text matches `want`; an Atten-Scope error toast that does not
// match it fails at once.
export async function waitNotification(page, want, timeout, { failOnError = true } = {}) {
  let found;
  await waitFor(`a notification matching ${want}`, async () => {
    const notes = await notifications(page);
    found = notes.find((n) => want.test(n.text));
    if (found) return true;
    const err = failOnError && notes.find((n) => n.error && /atten|python|set-up/i.test(n.text));
    if (err) throw Object.assign(new Error(`error notification: ${err.text}`), { fatal: true });
    return false;
  }, { timeout, interval: 500 });
  return found;
}

export async function cursorStatus(page) {
  const el = page.locator('.part.statusbar [id="status.editor.selection"]');
  if (!(await el.isVisible().catch(() => false))) return '';
  return (await el.innerText()).trim();
}

