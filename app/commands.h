// The subcommands of SPEC.md "Command line". Each takes the arguments after its name and
// returns the process exit code: 0 success, 1 bad config or policy, 2 datapath setup failed,
// 3 other runtime failure.
#pragma once

#include <span>
#include <string_view>

namespace portcullis::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitBadConfig = 1;
inline constexpr int kExitDatapath = 2;
inline constexpr int kExitRuntime = 3;

using Args = std::span<const std::string_view>;

int checkCommand(Args args);
int runCommand(Args args);
int cleanupCommand(Args args);
int statusCommand(Args args);

const char* usage();
const char* version();

}  // namespace portcullis::app
