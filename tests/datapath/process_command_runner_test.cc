#include "datapath/process_command_runner.h"

#include <gtest/gtest.h>

#include "datapath/datapath_error.h"

namespace portcullis::datapath {
namespace {

TEST(ProcessCommandRunner, FeedsStdinAndCollectsStdoutWithoutAShell) {
  ProcessCommandRunner runner;
  // Larger than a pipe buffer both ways: writing and reading must interleave.
  const std::string input(1 << 20, 'x');
  auto out = runner.run({"cat"}, input);
  ASSERT_TRUE(out);
  EXPECT_EQ(out.value().exit_code, 0);
  EXPECT_EQ(out.value().out, input);
  // Arguments are passed verbatim: no globbing, no word splitting.
  auto echo = runner.run({"echo", "a  *", "$HOME"}, {});
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo.value().out, "a  * $HOME\n");
}

TEST(ProcessCommandRunner, ReportsExitCodesAndStderr) {
  ProcessCommandRunner runner;
  auto out = runner.run({"ls", "/nonexistent-portcullis-path"}, {});
  ASSERT_TRUE(out);
  EXPECT_NE(out.value().exit_code, 0);
  EXPECT_NE(out.value().err.find("nonexistent-portcullis-path"), std::string::npos);
}

TEST(ProcessCommandRunner, AMissingProgramIsAnError) {
  ProcessCommandRunner runner;
  auto out = runner.run({"portcullis-no-such-program"}, "input");
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error(), DatapathError::kSpawnFailed);
}

TEST(ProcessCommandRunner, AChildThatIgnoresStdinDoesNotHang) {
  ProcessCommandRunner runner;
  auto out = runner.run({"true"}, std::string(1 << 20, 'y'));
  ASSERT_TRUE(out);
  EXPECT_EQ(out.value().exit_code, 0);
}

}  // namespace
}  // namespace portcullis::datapath
