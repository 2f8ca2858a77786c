import { describe, expect, it } from "vitest";
import { initialText, inputFields, readInputs } from "./inputs";

const definition = {
  inputs: {
    brief: { required: true, description: "What it is about." },
    count: { type: "integer", default: 3 },
    ratio: { type: "number" },
    tone: { enum: ["calm", "bold"] },
    level: { type: "integer", enum: [1, 2] },
    urgent: { type: "boolean" },
    tags: { type: "array", default: ["a"] },
    extra: { type: "any" },
  },
};

describe("start-run inputs", () => {
  it("reads the definition's inputs schema, string by default", () => {
    const fields = inputFields(definition);
    expect(fields.map((f) => [f.name, f.type, f.required])).toEqual([
      ["brief", "string", true], ["count", "integer", false], ["ratio", "number", false], ["tone", "string", false],
      ["level", "integer", false], ["urgent", "boolean", false], ["tags", "array", false], ["extra", "any", false],
    ]);
    expect(fields[0]!.description).toBe("What it is about.");
    expect(inputFields({})).toEqual([]);
    expect(inputFields(null)).toEqual([]);
  });

  it("starts each field at its default, written as typed", () => {
    const [brief, count, , , , , tags] = inputFields(definition);
    expect(initialText(brief!)).toBe("");
    expect(initialText(count!)).toBe("3");
    expect(initialText(tags!)).toBe('["a"]');
  });

  it("turns the texts into typed values and leaves empty optional ones out", () => {
    const fields = inputFields(definition);
    const read = readInputs(fields, { brief: "Otters", count: "5", ratio: "0.5", tone: "bold", level: "2", urgent: "false", tags: "[1, 2]", extra: "plain words" });
    expect(read.errors).toEqual({});
    expect(read.inputs).toEqual({ brief: "Otters", count: 5, ratio: 0.5, tone: "bold", level: 2, urgent: false, tags: [1, 2], extra: "plain words" });
    expect(readInputs(fields, { brief: "x" }).inputs).toEqual({ brief: "x" });
  });

  it("says what is wrong with each field", () => {
    const read = readInputs(inputFields(definition), { brief: " ", count: "2.5", ratio: "lots", tone: "shy", tags: "[1," });
    expect(read.errors).toEqual({ brief: "Required.", count: "A whole number.", ratio: "A number.", tone: "Pick one of the options.", tags: "JSON ([…])." });
  });
});
