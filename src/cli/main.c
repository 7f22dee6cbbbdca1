/* main.c: the `visor` executable: dispatches to a subcommand (see commands.h). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/log.h"

static void print_usage(FILE *out) {
  fprintf(out,
          "visor: visual product search engine\n\nUsage: visor COMMAND [OPTIONS]\n\nCommands:\n");
  for (int i = 0; i < visor_command_count; i++)
    fprintf(out, "  %-10s %s\n", visor_commands[i].name, visor_commands[i].summary);
  fprintf(out, "  %-10s %s\n", "help", "show this help, or a command's (visor help COMMAND)");
  fprintf(out, "\nEvery command takes --help.\n");
}

const visor_command *find_command(const char *name) {
  for (int i = 0; i < visor_command_count; i++)
    if (strcmp(visor_commands[i].name, name) == 0) return &visor_commands[i];
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    print_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "help") == 0) {
    if (argc < 3) {
      print_usage(stdout);
      return 0;
    }
    const visor_command *command = find_command(argv[2]);
    if (!command) {
      fprintf(stderr, "visor: unknown command '%s'\n", argv[2]);
      return 2;
    }
    char *help_args[] = {"--help", NULL};
    return command->run(1, help_args);
  }
  if (strcmp(argv[1], "--version") == 0) return visor_cmd_version(0, NULL);
  const visor_command *command = find_command(argv[1]);
  if (!command) {
    fprintf(stderr, "visor: unknown command '%s' (see visor --help)\n", argv[1]);
    return 2;
  }
  return command->run(argc - 2, argv + 2);
}
