// A textarea that offers agent names after "@" (arrow keys, Enter or Tab to pick, Escape to close).
import { type KeyboardEvent, useId, useLayoutEffect, useRef, useState } from "react";
import { controlClass } from "../../components/Field";
import { insertMention, mentionAt, suggest } from "./mentions";

export function MentionInput({
  value,
  onChange,
  names,
  label,
  onSubmit,
}: {
  value: string;
  onChange: (value: string) => void;
  names: string[];
  label: string;
  onSubmit?: () => void;
}) {
  const ref = useRef<HTMLTextAreaElement>(null);
  const listId = useId();
  const [mention, setMention] = useState<{ query: string; start: number } | null>(null);
  const [active, setActive] = useState(0);
  // Where the caret goes once a picked name is in the text: set in the same commit as the new
  // value, so keys typed right after the pick land after the name.
  const caretAfterPick = useRef<number | null>(null);
  useLayoutEffect(() => {
    const element = ref.current;
    if (element && caretAfterPick.current !== null) {
      element.setSelectionRange(caretAfterPick.current, caretAfterPick.current);
      caretAfterPick.current = null;
    }
  }, [value]);
  const options = mention ? suggest(names, mention.query) : [];
  const open = options.length > 0;

  const update = (text: string, caret: number) => {
    onChange(text);
    setMention(mentionAt(text, caret));
    setActive(0);
  };
  const pick = (name: string) => {
    const element = ref.current;
    if (!element || !mention) return;
    const next = insertMention(value, mention.start, element.selectionStart, name);
    caretAfterPick.current = next.caret;
    element.focus();
    onChange(next.value);
    setMention(null);
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (open) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        setActive((index) => (index + step + options.length) % options.length);
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        pick(options[active] ?? options[0]!);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        setMention(null);
        return;
      }
    }
    if (event.key === "Enter" && (event.metaKey || event.ctrlKey) && onSubmit) {
      event.preventDefault();
      onSubmit();
    }
  };
  return (
    <div className="relative">
      <textarea
        ref={ref}
        rows={3}
        aria-label={label}
        role="combobox"
        aria-autocomplete="list"
        aria-expanded={open}
        aria-controls={listId}
        aria-activedescendant={open ? `${listId}-${active}` : undefined}
        className={controlClass}
        value={value}
        placeholder="Write a reply… type @ to mention an agent (Ctrl+Enter sends)"
        onChange={(event) => update(event.target.value, event.target.selectionStart)}
        onKeyDown={onKeyDown}
        onBlur={() => setTimeout(() => setMention(null), 150)}
      />
      {open && (
        <ul
          id={listId}
          role="listbox"
          aria-label="Mention suggestions"
          className="absolute bottom-full left-0 z-30 mb-1 w-56 overflow-hidden rounded-md border border-slate-200 bg-white shadow-lg dark:border-slate-700 dark:bg-slate-800"
        >
          {options.map((name, index) => (
            <li
              key={name}
              id={`${listId}-${index}`}
              role="option"
              aria-selected={index === active}
              onMouseDown={(event) => {
                event.preventDefault();
                pick(name);
              }}
              className={`cursor-pointer px-3 py-1.5 text-sm ${index === active ? "bg-indigo-600 text-white" : ""}`}
            >
              @{name}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
