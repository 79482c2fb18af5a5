// The Dagster UI behind nginx, in Debian's headless Chromium, as three people see it:
// nobody (no credentials: 401), a viewer (the asset graph, no "Materialize"), an operator (launches a
// run by clicking "Materialize" on ASSET_PATH). Saves a screenshot per person.
// Usage: node ui_auth.js URL SCREENSHOT_PREFIX VIEWER:PASSWORD OPERATOR:PASSWORD ASSET_PATH ASSET_NAME...
// Exit 0 when every expectation held; otherwise prints the first that did not and exits 1.
const { chromium } = require("playwright-core");

const [url, prefix, viewer, operator, assetPath, ...names] = process.argv.slice(2);
const credentials = (pair) => {
  const at = pair.indexOf(":");
  return { username: pair.slice(0, at), password: pair.slice(at + 1) };
};

function fail(message) {
  console.log(message);
  process.exit(1);
}

async function open(browser, httpCredentials, path, screenshot, expected) {
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, httpCredentials });
  const page = await context.newPage();
  const response = await page.goto(`${url}${path}`, { waitUntil: "networkidle", timeout: 90000 });
  const skip = page.getByRole("button", { name: "Skip" });  // first-visit newsletter dialog
  if (await skip.isVisible()) await skip.click();
  const deadline = Date.now() + 60000;
  let text = "";
  do {
    text = await page.locator("body").innerText();
    if (expected.every((name) => text.includes(name))) break;
    await page.waitForTimeout(1000);
  } while (Date.now() < deadline);
  await page.screenshot({ path: `${prefix}-${screenshot}.png` });
  const missing = expected.filter((name) => !text.includes(name));
  if (missing.length) fail(`${screenshot}: not shown: ${missing.join(", ")}`);
  return { page, response };
}

const materialize = (page) => page.getByRole("button", { name: /^Materialize/ });

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run"],
  });
  try {
    const anonymous = await (await browser.newContext()).newPage();
    const refused = await anonymous.goto(`${url}/asset-groups`);
    if (refused.status() !== 401) fail(`no credentials: HTTP ${refused.status()}, expected 401`);
    await anonymous.screenshot({ path: `${prefix}-anonymous.png` });

    const asViewer = await open(browser, credentials(viewer), "/asset-groups", "viewer-graph", names);
    const onAsset = await open(browser, credentials(viewer), `/assets/${assetPath}`, "viewer-asset", ["Definition"]);
    for (const page of [asViewer.page, onAsset.page]) {
      if (await materialize(page).count()) fail(`viewer: a "Materialize" button is shown on ${page.url()}`);
    }

    const asOperator = await open(browser, credentials(operator), `/assets/${assetPath}`, "operator-asset",
                                  ["Definition"]);
    const button = materialize(asOperator.page).first();
    await button.waitFor({ state: "visible", timeout: 60000 });
    await button.click();
    // Dagster confirms a launch with a toast linking to the new run.
    await asOperator.page.getByText(/launched/i).first().waitFor({ timeout: 60000 });
    await asOperator.page.screenshot({ path: `${prefix}-operator-launched.png` });
  } finally {
    await browser.close();
  }
  console.log("401 without credentials; viewer sees the graph without Materialize; operator launched a run");
})().catch((error) => { console.error(error); process.exit(2); });
