import { useEffect, useState } from "react";
import { utcDay } from "./format";

/** Today's UTC date (YYYY-MM-DD), re-rendering when it changes (checked every minute). */
export function useToday(): string {
  const [today, setToday] = useState(() => utcDay(new Date()));
  useEffect(() => {
    const timer = setInterval(() => setToday(utcDay(new Date())), 60_000);
    return () => clearInterval(timer);
  }, []);
  return today;
}
