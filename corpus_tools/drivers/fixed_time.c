/* Runtime benchmark helper (a harness, not corpus code): a constant time() for the Lua interpreter.
 *
 * Lua 5.4 seeds its string hashing with time(NULL) (luai_makeseed in
 * lstate.c). Linked into the executable, this definition takes the place of
 * the C library's, so every run hashes alike and instruction counts repeat.
 */
#include <time.h>

time_t time(time_t *out) {
  const time_t fixed = 1700000000;
  if (out) *out = fixed;
  return fixed;
}
