import { describe, expect, it } from "vitest";
import { insertMention, mentionAt, suggest } from "./mentions";

describe("mentions", () => {
  it("finds the @word being typed, only at a word start", () => {
    expect(mentionAt("hello @wri", 10)).toEqual({ query: "wri", start: 6 });
    expect(mentionAt("@", 1)).toEqual({ query: "", start: 0 });
    expect(mentionAt("mail me@home", 12)).toBeNull();
    expect(mentionAt("@writer done", 12)).toBeNull();
  });

  it("suggests names starting with the query first, then containing it", () => {
    expect(suggest(["reviewer", "writer", "rewriter"], "wr")).toEqual(["writer", "rewriter"]);
    expect(suggest(["a", "b", "c"], "", 2)).toEqual(["a", "b"]);
  });

  it("replaces the query with the name and a space", () => {
    expect(insertMention("hi @wr there", 3, 6, "writer")).toEqual({ value: "hi @writer  there", caret: 11 });
  });
});
