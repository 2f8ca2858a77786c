// Markdown rendered with marked and sanitised with DOMPurify (agents write these documents).
import DOMPurify from "dompurify";
import { marked } from "marked";
import { useMemo } from "react";

export function renderMarkdown(source: string): string {
  return DOMPurify.sanitize(marked.parse(source, { async: false, gfm: true }));
}

export function Markdown({ source, className = "" }: { source: string; className?: string }) {
  const html = useMemo(() => renderMarkdown(source), [source]);
  // Sanitised above; the CSP forbids inline scripts as a second wall.
  return <div className={`prose-md ${className}`} dangerouslySetInnerHTML={{ __html: html }} />;
}
