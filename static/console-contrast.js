// The colour rule of QR designs (CONTRACT §8), checked in the page before anything is saved:
// the dark colour must be darker than the light one with a WCAG contrast ratio of at least 3:1
// (against white when the light colour is transparent).

export const MIN_CONTRAST = 3;

function channel(value) {
  const c = value / 255;
  return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

/** WCAG relative luminance of "#rrggbb" or "rrggbb". */
export function luminance(hex) {
  const digits = hex.replace(/^#/, "");
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(digits.slice(i, i + 2), 16));
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
}

/** {ok, ratio, message} for a dark colour on a light one ("transparent": on white). */
export function checkColours(dark, light) {
  const background = light === "transparent" ? "#ffffff" : light;
  const darkL = luminance(dark);
  const lightL = luminance(background);
  const ratio = (Math.max(darkL, lightL) + 0.05) / (Math.min(darkL, lightL) + 0.05);
  const shown = `${ratio.toFixed(2)}:1`;
  if (darkL >= lightL) {
    return {
      ok: false,
      ratio,
      message: "Refused: the dark colour must be darker than the light one, or cameras cannot read the code.",
    };
  }
  if (ratio < MIN_CONTRAST) {
    return {
      ok: false,
      ratio,
      message: `Refused: the contrast is ${shown}; a camera needs at least ${MIN_CONTRAST}:1.`,
    };
  }
  return { ok: true, ratio, message: `Contrast ${shown}: readable.` };
}
