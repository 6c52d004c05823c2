/**
 * For a child-process entry (the fake vendors of `tidings load`, the bench servers): run `stop`
 * once, the first time the child is asked to stop: SIGTERM, SIGINT, or the parent closing (or
 * losing) our stdin, so a child never outlives its parent. Returns the same once-only trigger for
 * other reasons to stop.
 */
export function stopWhenAsked(stop: () => void | Promise<void>): () => void {
  let stopping = false;
  const once = (): void => {
    if (stopping) return;
    stopping = true;
    void stop();
  };
  process.on('SIGTERM', once);
  process.on('SIGINT', once);
  process.stdin.on('end', once);
  process.stdin.on('error', once);
  process.stdin.resume();
  return once;
}
