// The Dagster UI behind nginx, in Debian's headless Chromium, as three people see it:
// nobody (no credentials: 401), a viewer (the asset graph, no enabled "Materialize"), an operator (launches a
// run by clicking "Materialize" on ASSET_PATH). Saves a screenshot per person.
// Usage: node ui_auth.js URL SCREENSHOT_PREFIX VIEWER:PASSWORD OPERATOR:PASSWORD ASSET_PATH ASSET_DESCRIPTION
//        GROUP_NAME...  (the asset page counts as loaded once its description shows)
// Exit 0 when every expectation held; otherwise prints the first that did not and exits 1.
const { launch, textShowing } = require("./browser");

const [url, prefix, viewer, operator, assetPath, description, ...names] = process.argv.slice(2);
const credentials = (pair) => {
  const at = pair.indexOf(":");
  return { username: pair.slice(0, at), password: pair.slice(at + 1) };
};

function fail(message) {
  console.log(message);
  process.exit(1);
}

// Dagster's first-visit newsletter dialog (every new browser context) covers the page once it has loaded.
async function dismissNewsletter(page) {
  const skip = page.getByRole("button", { name: "Skip" });
  try {
    await skip.waitFor({ state: "visible", timeout: 5000 });
    await skip.click();
  } catch (error) {
    if (error.name !== "TimeoutError") throw error;
  }
}

async function open(browser, httpCredentials, path, screenshot, expected) {
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, httpCredentials });
  const page = await context.newPage();
  const response = await page.goto(`${url}${path}`, { waitUntil: "networkidle", timeout: 90000 });
  const text = await textShowing(page, expected, 60000);
  await dismissNewsletter(page);
  await page.screenshot({ path: `${prefix}-${screenshot}.png` });
  const missing = expected.filter((name) => !text.includes(name));
  if (missing.length) fail(`${screenshot}: not shown: ${missing.join(", ")}`);
  return { page, response };
}

const materialize = (page) => page.getByRole("button", { name: /Materialize/ });

(async () => {
  const browser = await launch();
  try {
    // No credentials: the proxy answers 401 with a Basic challenge, which the browser, having nothing to
    // answer with, turns into a failed navigation; nothing of the UI loads.
    const anonymous = await (await browser.newContext()).newPage();
    const refused = await anonymous.request.get(`${url}/asset-groups`);
    if (refused.status() !== 401 || !/^Basic/.test(refused.headers()["www-authenticate"] || "")) {
      fail(`no credentials: HTTP ${refused.status()}, expected 401 with a Basic challenge`);
    }
    const navigation = await anonymous.goto(`${url}/asset-groups`).then(
      (response) => `HTTP ${response.status()}`, (error) => String(error));
    if (!/ERR_INVALID_AUTH_CREDENTIALS|HTTP 401/.test(navigation)) fail(`no credentials: the browser got ${navigation}`);

    const asViewer = await open(browser, credentials(viewer), "/asset-groups", "viewer-graph", names);
    const onAsset = await open(browser, credentials(viewer), `/assets/${assetPath}`, "viewer-asset", [description]);
    for (const page of [asViewer.page, onAsset.page]) {
      for (const button of await materialize(page).all()) {
        if (await button.isEnabled()) fail(`viewer: an enabled "Materialize" button on ${page.url()}`);
      }
    }

    const asOperator = await open(browser, credentials(operator), `/assets/${assetPath}`, "operator-asset",
                                  [description]);
    const button = materialize(asOperator.page).first();
    await button.waitFor({ state: "visible", timeout: 60000 });
    const launched = asOperator.page.waitForResponse(
      (r) => r.url().includes("/graphql") && /LaunchPipelineExecution|LaunchMultipleRuns/.test(r.request().postData() || ""),
      { timeout: 60000 });
    await button.click();
    const answer = JSON.stringify(await (await launched).json());
    const runId = /LaunchRunSuccess/.test(answer) && /"run":\{"id":"([^"]+)"/.exec(answer);
    if (!runId) fail(`operator: the launch answered ${answer}`);
    console.log(`launched run ${runId[1]}`);
    await asOperator.page.waitForTimeout(2000);
    await asOperator.page.screenshot({ path: `${prefix}-operator-launched.png` });
  } finally {
    await browser.close();
  }
  console.log("401 without credentials; viewer sees the graph, no enabled Materialize; operator launched a run");
})().catch((error) => { console.error(error); process.exit(2); });
