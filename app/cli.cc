#include "app/commands.h"

namespace portcullis::app {

const char* version() { return "portcullis 0.1.0"; }

const char* usage() {
  return R"(portcullis: a transparent L7 policy proxy (HTTP, DNS, TLS SNI) for Linux

usage:
  portcullis run     --config FILE [--dry-run] [--log-level LEVEL]
  portcullis check   --config FILE
  portcullis cleanup [--config FILE]
  portcullis status  [--admin HOST:PORT] [--json]
  portcullis --version | --help

exit codes: 0 ok, 1 bad config or policy, 2 datapath setup failed, 3 other runtime failure
)";
}

}  // namespace portcullis::app
