// extension/frames/theme.js in Node: prints one JSON line with palette() of each theme given.
//   node theme_check.mjs '[{"bg": ..., "fg": ..., "accent": ..., "font": ...}, ...]'
import { palette, parseColor, themeCss } from "../../extension/frames/theme.js";

const themes = JSON.parse(process.argv[2]);
console.log(JSON.stringify({
  palettes: themes.map((t) => palette(t)),
  css: themeCss(palette(themes[0])),
  colours: ["rgb(1, 2, 3)", "rgba(1, 2, 3, 0.5)", "#abc", "#a1b2c3", "red", "rgb(300, 0, 0)", "url(x)"].map(parseColor),
}));
