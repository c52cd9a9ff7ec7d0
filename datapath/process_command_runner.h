// CommandRunner over posix_spawnp and pipes: no shell, PATH lookup, stdin written and
// stdout/stderr read concurrently so a large payload or output cannot deadlock.
#pragma once

#include "datapath/command_runner.h"

namespace portcullis::datapath {

class ProcessCommandRunner final : public CommandRunner {
 public:
  Result<CommandOutput> run(const std::vector<std::string>& argv,
                            std::string_view stdin_data) override;
};

}  // namespace portcullis::datapath
