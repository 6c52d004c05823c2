// Preloaded (`node --import`) into the server child that `tidings load` starts: the child shuts
// down gracefully (SIGTERM to itself) when its parent goes away or closes its stdin, so an
// interrupted load run never leaves a server behind.
const parent = process.ppid;
const stop = () => process.kill(process.pid, 'SIGTERM');
setInterval(() => {
  if (process.ppid !== parent) stop();
}, 1000).unref();
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.stdin.unref?.();
