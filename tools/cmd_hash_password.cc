// tools/cmd_hash_password.cc — `ringmail hash-password [--user NAME]`:
// reads a password from stdin and prints its yescrypt hash (or the
// "NAME:hash" line) for a [[listen]] users_file (docs/ingress.md).
// On a terminal it asks twice without echo; from a pipe it reads one line.
// The password is never printed or passed on a command line.
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "ingress/users_file.h"
#include "tools/commands.h"

namespace ringmail {
namespace {

constexpr int kExitUsage = 64;
constexpr int kExitSoftware = 70;

// ReadLine reads one line of stdin without its line end; with |prompt| (a
// terminal) echo is off meanwhile. False at end of input before a line.
bool ReadLine(const char* prompt, std::string& line) {
  termios saved{};
  const bool tty = prompt != nullptr && ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (tty) {
    // Echo off before the prompt appears, so nothing typed after it shows.
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    std::fprintf(stderr, "%s", prompt);
  }
  const bool ok = static_cast<bool>(std::getline(std::cin, line));
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::fprintf(stderr, "\n");
  }
  if (ok && !line.empty() && line.back() == '\r') line.pop_back();
  return ok;
}

}  // namespace

int cmd_hash_password(const HashPasswordOptions& options) {
  const bool tty = ::isatty(STDIN_FILENO) == 1;
  std::string password;
  if (!ReadLine(tty ? "Password: " : nullptr, password)) {
    std::fprintf(stderr, "ringmail hash-password: no password on stdin\n");
    return kExitUsage;
  }
  if (tty) {
    std::string again;
    if (!ReadLine("Again: ", again) || again != password) {
      std::fprintf(stderr, "ringmail hash-password: the two passwords differ; nothing printed\n");
      return kExitUsage;
    }
  }
  std::string hash, error;
  if (!ingress::make_password_hash(password, hash, error)) {
    std::fprintf(stderr, "ringmail hash-password: %s\n", error.c_str());
    return error.rfind("libcrypt", 0) == 0 ? kExitSoftware : kExitUsage;
  }
  if (!options.user.empty()) std::printf("%s:", options.user.c_str());
  std::printf("%s\n", hash.c_str());
  return 0;
}

CLI::App* add_hash_password_command(CLI::App& app, HashPasswordOptions& options) {
  auto* cmd = app.add_subcommand(
      "hash-password",
      "Read a password from stdin (asked twice, without echo, on a terminal) and print its yescrypt hash "
      "for a [[listen]] users_file");
  cmd->add_option("--user", options.user, "Print the whole users_file line, USER:HASH")
      ->check([](const std::string& user) -> std::string {
        if (user.empty() || user.find_first_of(": \t") != std::string::npos) return "no ':', spaces or tabs";
        return {};
      });
  cmd->footer("Exit status: 0 printed; 64 no password, an empty one, or the two differ; 70 libcrypt failed.");
  return cmd;
}

}  // namespace ringmail
