// What the browser scripts (asset_graph.js, ui_auth.js) share: Debian's headless Chromium launched the
// same way, and the wait for a page's text, since the Dagster UI renders its names a while after the
// network goes idle.
const { chromium } = require("playwright-core");

function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run"],
  });
}

// The page's text once every expected string shows, or as it is when `timeout` ms have passed.
async function textShowing(page, expected, timeout) {
  const deadline = Date.now() + timeout;
  let text = "";
  do {
    text = await page.locator("body").innerText();
    if (expected.every((name) => text.includes(name))) break;
    await page.waitForTimeout(1000);
  } while (Date.now() < deadline);
  return text;
}

module.exports = { launch, textShowing };
