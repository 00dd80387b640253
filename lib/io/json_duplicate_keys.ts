// JSON.parse keeps the last of two equal keys without a word. This scan of the raw text finds
// the first key that appears twice in one object, so a reader can refuse such a document.

export interface DuplicateKey {
  /** The repeated key, decoded. */
  readonly key: string;
  /** The keys leading from the root to the object that holds it ('[]' for an array level). */
  readonly path: readonly string[];
}

interface Level {
  /** The keys seen so far in this object; null for an array. */
  readonly keys: Set<string> | null;
  /** How this level is reached from its parent. */
  readonly label: string;
  expectingKey: boolean;
  lastKey: string;
}

/** The index of the quote that closes the string literal opening at `start`. */
function closingQuote(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i;
  }
  return text.length;
}

/** The first key repeated within one object of `text`, which must be valid JSON; undefined when none is. */
export function findDuplicateKey(text: string): DuplicateKey | undefined {
  const levels: Level[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = levels[levels.length - 1];
    if (c === '"') {
      const end = closingQuote(text, i);
      if (top?.keys && top.expectingKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.keys.has(key)) return { key, path: levels.slice(1).map((level) => level.label) };
        top.keys.add(key);
        top.expectingKey = false;
        top.lastKey = key;
      }
      i = end;
    } else if (c === '{' || c === '[') {
      const label = top === undefined ? '' : top.keys ? top.lastKey : '[]';
      levels.push({ keys: c === '{' ? new Set() : null, label, expectingKey: c === '{', lastKey: '' });
    } else if (c === '}' || c === ']') {
      levels.pop();
    } else if (c === ',' && top?.keys) {
      top.expectingKey = true;
    }
  }
  return undefined;
}
