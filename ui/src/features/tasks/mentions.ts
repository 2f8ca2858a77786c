// @mention autocomplete: what is being typed, and what replacing it looks like (pure, tested).

/** The @word being typed at `caret`, or null. */
export function mentionAt(text: string, caret: number): { query: string; start: number } | null {
  const before = text.slice(0, caret);
  const match = /(^|[\s(])@([\w-]*)$/.exec(before);
  if (!match) return null;
  const query = match[2] ?? "";
  return { query, start: caret - query.length - 1 };
}

/** Candidates whose name starts with (then contains) the query, best first. */
export function suggest(names: string[], query: string, limit = 6): string[] {
  const q = query.toLowerCase();
  const starts = names.filter((name) => name.toLowerCase().startsWith(q));
  const contains = names.filter((name) => !name.toLowerCase().startsWith(q) && name.toLowerCase().includes(q));
  return [...starts, ...contains].slice(0, limit);
}

/** Replace the @query at `start` with `@name ` and say where the caret goes. */
export function insertMention(text: string, start: number, caret: number, name: string) {
  const value = `${text.slice(0, start)}@${name} ${text.slice(caret)}`;
  return { value, caret: start + name.length + 2 };
}
