// Opens the Dagster UI's asset graph in Debian's headless Chromium: the global lineage (one node per
// layer group) and each layer's own graph, until every expected asset name is rendered; saves
// screenshots. Usage: node asset_graph.js URL SCREENSHOT_PREFIX GROUP,GROUP,... ASSET_NAME...
// Exit 0 when all names were found; otherwise prints the missing ones and exits 1.
const { launch, textShowing } = require("./browser");

const [url, prefix, groups, ...names] = process.argv.slice(2);

async function textOf(page, path, expected, screenshot) {
  await page.goto(`${url}${path}`, { waitUntil: "networkidle", timeout: 60000 });
  const skip = page.getByRole("button", { name: "Skip" });  // first-visit newsletter dialog
  if (await skip.isVisible()) await skip.click();
  const text = await textShowing(page, expected, 30000);
  await page.screenshot({ path: screenshot });
  return text;
}

(async () => {
  const browser = await launch();
  let seen = "";
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const layers = groups.split(",");
    seen += await textOf(page, "/asset-groups", layers, `${prefix}.png`);
    for (const group of layers) {
      seen += await textOf(page, `/locations/greenhouse/asset-groups/${group}/lineage`, ["Latest event"], `${prefix}-${group}.png`);
    }
  } finally {
    await browser.close();
  }
  const missing = [...groups.split(","), ...names].filter((name) => !seen.includes(name));
  if (missing.length) {
    console.log(`not on the asset graph: ${missing.join(", ")}`);
    process.exit(1);
  }
  console.log(`asset graph shows: ${names.join(", ")}`);
})().catch((error) => { console.error(error); process.exit(2); });
