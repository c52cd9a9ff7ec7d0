// Runs a program with an argv (never a shell string), feeding it stdin and collecting its
// output. The seam between the datapath and iptables-restore/-save (STYLE.md 4): unit tests
// use a recording fake and assert the exact argv sequence.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace portcullis::datapath {

struct CommandOutput {
  int exit_code = 0;  // 128+N when killed by signal N
  std::string out;
  std::string err;
};

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // An error only when the program could not be run at all; a non-zero exit is a value.
  virtual Result<CommandOutput> run(const std::vector<std::string>& argv,
                                    std::string_view stdin_data) = 0;
};

}  // namespace portcullis::datapath
