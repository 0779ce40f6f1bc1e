// `serwist inject-manifest`: the list of files the service worker precaches (with revisions),
// written into sw/sw.js at self.__SW_MANIFEST -> out/sw.js.
/** @type {import("@serwist/build").InjectManifestOptions} */
export default {
  swSrc: "sw/sw.js",
  swDest: "out/sw.js",
  globDirectory: "out",
  globPatterns: ["**/*.{html,txt,js,css,woff2,png,svg,webmanifest}"],
  globIgnores: ["sw.js"],
  injectionPoint: "self.__SW_MANIFEST",
  maximumFileSizeToCacheInBytes: 4 * 1024 * 1024,
};
