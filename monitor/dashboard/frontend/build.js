// Copies the vendored browser bundles into ../static/vendor (no bundler needed: the pages load plain files).
const fs = require("fs");
const path = require("path");

const out = path.join(__dirname, "..", "static", "vendor");
fs.mkdirSync(out, { recursive: true });
const src = require.resolve("echarts/dist/echarts.min.js");
fs.copyFileSync(src, path.join(out, "echarts.min.js"));
console.log(`copied ${path.relative(process.cwd(), src)} -> ${path.relative(process.cwd(), out)}/echarts.min.js`);
