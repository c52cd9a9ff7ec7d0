// `portcullis run --config FILE [--dry-run] [--log-level LEVEL]` (SPEC.md "Command line").
#include <cstdio>
#include <string>

#include "app/commands.h"
#include "app/daemon.h"
#include "common/log.h"

namespace portcullis::app {
namespace {

constexpr const char* kRunUsage = "usage: portcullis run --config FILE [--dry-run] [--log-level LEVEL]";

int usageError(const std::string& why) {
  std::fprintf(stderr, "portcullis run: %s; %s\n", why.c_str(), kRunUsage);
  return kExitBadConfig;
}

}  // namespace

int runCommand(Args args) {
  Daemon::Options options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "--dry-run") {
      options.dry_run = true;
    } else if (a == "--config" || a == "--log-level") {
      if (i + 1 >= args.size()) return usageError(std::string(a) + " needs a value");
      const std::string_view value = args[++i];
      if (a == "--config") {
        options.config_path = std::string(value);
      } else if (auto level = log::parseLevel(value)) {
        log::setLevel(*level);
      } else {
        return usageError("unknown log level '" + std::string(value) + "' (debug, info, warn, error)");
      }
    } else {
      return usageError("unexpected argument '" + std::string(a) + "'");
    }
  }
  if (options.config_path.empty()) return usageError("missing --config FILE");
  Daemon daemon(std::move(options));
  return daemon.run();
}

}  // namespace portcullis::app
