// d3 v7 is vendored as its UMD bundle (vendor/d3.min.js, loaded by a classic <script> tag
// before the modules); this module hands the global to the ES modules that import it.
const d3 = globalThis.d3;
if (!d3) throw new Error("vendor/d3.min.js is not loaded: add it as a <script> before the modules");
export default d3;
