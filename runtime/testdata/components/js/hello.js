// hello is a JavaScript command component (componentize-js): it prints a
// line that needs the wall clock, randomness and stdout.
export const run = {
  run() {
    const now = Date.now();
    const r = Math.random();
    console.log(`hello from javascript: clock ${now > 1.6e12 ? "ok" : "wrong"}, random ${r >= 0 && r < 1 ? "ok" : "wrong"}`);
  },
};
