import { fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { MentionInput } from "./MentionInput";

function Harness() {
  const [value, setValue] = useState("");
  return <MentionInput label="Reply" value={value} onChange={setValue} names={["all", "writer", "reviewer"]} />;
}

function type(box: HTMLTextAreaElement, text: string) {
  fireEvent.change(box, { target: { value: text, selectionStart: text.length } });
}

describe("MentionInput", () => {
  it("offers agents after @ and inserts the chosen one with the keyboard", () => {
    render(<Harness />);
    const box = screen.getByRole("combobox", { name: "Reply" }) as HTMLTextAreaElement;
    type(box, "ping @re");
    const options = screen.getAllByRole("option");
    expect(options.map((o) => o.textContent)).toEqual(["@reviewer"]);
    expect(box.getAttribute("aria-expanded")).toBe("true");
    fireEvent.keyDown(box, { key: "Enter" });
    expect(box.value).toBe("ping @reviewer ");
    // The caret is after the name at once, so the next key goes there.
    expect(box.selectionStart).toBe("ping @reviewer ".length);
    expect(screen.queryByRole("listbox")).toBeNull();
  });

  it("moves through suggestions with the arrows and closes on Escape", () => {
    render(<Harness />);
    const box = screen.getByRole("combobox", { name: "Reply" }) as HTMLTextAreaElement;
    type(box, "@");
    fireEvent.keyDown(box, { key: "ArrowDown" });
    expect(screen.getAllByRole("option")[1]!.getAttribute("aria-selected")).toBe("true");
    fireEvent.keyDown(box, { key: "Escape" });
    expect(screen.queryByRole("listbox")).toBeNull();
    expect(box.value).toBe("@");
  });
});
