/* Runtime benchmark helper (a harness, not corpus code): the readline calls of a Lua interpreter built with
 * LUA_USE_READLINE (lua.c's interactive prompt), defined so the program links without libreadline.
 *
 * The benchmarks run a script, never the prompt: these are never called.
 */
#include <stddef.h>

char *readline(const char *prompt) {
  (void)prompt;
  return NULL;
}

void add_history(const char *line) { (void)line; }
