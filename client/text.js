// Tokens as text on screen: whitespace made visible, so " ", "\n" and "\t" tokens of
// character-level data sets can be told apart and seen at all.

/**
 * @param {string} token
 * @param {{spaces?: boolean}} opts spaces: false keeps spaces (running text such as snippets)
 * @returns {string}
 */
export function visibleToken(token, { spaces = true } = {}) {
  const shown = token.replace(/\n/g, "↵").replace(/\t/g, "→");
  return spaces ? shown.replace(/ /g, "␣") : shown;
}

/** A token cut to fit `px` pixels of 12 px monospace (about 6.5 px a character). */
export function fitToken(token, px) {
  const shown = visibleToken(token);
  const chars = Math.max(1, Math.floor((px - 2) / 6.5));
  return shown.length <= chars ? shown : `${shown.slice(0, Math.max(1, chars - 1))}…`;
}
