import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { DiffView } from "./DiffView";

describe("DiffView", () => {
  it("marks added and removed lines, and not a line that only gained its newline", () => {
    render(<DiffView before={"# Notes\n\nFirst."} after={"# Notes\n\nFirst.\n\n## Fixes"} />);
    const text = screen.getByTestId("diff").textContent ?? "";
    expect(text).toContain("  First.");
    expect(text).not.toContain("- First.");
    expect(text).toContain("+ ## Fixes");
  });

  it("says when nothing changed", () => {
    render(<DiffView before="same" after={"same\n"} />);
    expect(screen.getByText("No changes.")).toBeTruthy();
  });
});
