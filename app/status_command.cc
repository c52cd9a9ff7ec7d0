// `portcullis status [--admin HOST:PORT] [--json]` (SPEC.md "Command line"): asks a running
// daemon's admin endpoint for /status and prints it as a table, or as the raw JSON for scripts.
// Exit 3 with one line on stderr when the daemon cannot be reached or answers oddly.
#include <chrono>
#include <cstdio>
#include <string>

#include "app/admin_client.h"
#include "app/commands.h"
#include "app/status_table.h"

namespace portcullis::app {

namespace {

constexpr Duration kTimeout = std::chrono::seconds(5);

int usageError(const char* why) {
  std::fprintf(stderr, "portcullis status: %s\nusage: portcullis status [--admin HOST:PORT] [--json]\n",
               why);
  return kExitRuntime;
}

}  // namespace

int statusCommand(Args args) {
  AdminAddress at;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--admin" && i + 1 < args.size()) {
      auto parsed = parseAdminAddress(args[++i]);
      if (!parsed) return usageError("--admin expects IPV4:PORT or [IPV6]:PORT, like 127.0.0.1:9964");
      at = parsed.value();
    } else {
      return usageError(("unexpected argument '" + std::string(args[i]) + "'").c_str());
    }
  }
  const std::string where = (at.host.find(':') != std::string::npos ? "[" + at.host + "]" : at.host) +
                            ":" + std::to_string(at.port);
  auto answer = adminGet(at, "/status", kTimeout);
  if (!answer) {
    std::fprintf(stderr, "portcullis status: cannot reach the daemon's admin endpoint at %s: %s\n",
                 where.c_str(), answer.error().message().c_str());
    return kExitRuntime;
  }
  if (answer.value().status != 200) {
    std::fprintf(stderr, "portcullis status: %s answered HTTP %d to /status\n", where.c_str(),
                 answer.value().status);
    return kExitRuntime;
  }
  if (json) {
    std::fputs(answer.value().body.c_str(), stdout);
    return std::fflush(stdout) == 0 ? kExitOk : kExitRuntime;
  }
  auto table = statusTable(answer.value().body);
  if (!table) {
    std::fprintf(stderr, "portcullis status: %s answered something that is not a /status document\n",
                 where.c_str());
    return kExitRuntime;
  }
  std::fputs(table.value().c_str(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitRuntime;
}

}  // namespace portcullis::app
