#include <cstdio>
#include <exception>
#include <string_view>
#include <vector>

#include "app/commands.h"

using namespace portcullis::app;

int main(int argc, char** argv) {
  const std::vector<std::string_view> all(argv + 1, argv + argc);
  if (all.empty()) {
    std::fputs(usage(), stderr);
    return kExitBadConfig;
  }
  const std::string_view command = all.front();
  const Args rest(all.data() + 1, all.size() - 1);
  try {
    if (command == "--version") return std::puts(version()), kExitOk;
    if (command == "--help" || command == "-h") return std::fputs(usage(), stdout), kExitOk;
    if (command == "check") return checkCommand(rest);
    if (command == "run") return runCommand(rest);
    if (command == "cleanup") return cleanupCommand(rest);
    if (command == "status") return statusCommand(rest);
  } catch (const std::exception& e) {
    // Exceptions only at start-up (STYLE.md 7): report and fail.
    std::fprintf(stderr, "portcullis: %s\n", e.what());
    return kExitRuntime;
  }
  std::fprintf(stderr, "portcullis: unknown command '%.*s'\n%s", static_cast<int>(command.size()),
               command.data(), usage());
  return kExitBadConfig;
}
