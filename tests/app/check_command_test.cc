// `portcullis check`: exit codes and what it prints, on real files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "app/commands.h"
#include "tests/proxy/tls_certificates.h"

namespace portcullis::app {
namespace {

struct CheckRun {
  int code;
  std::string out;
  std::string err;
};

CheckRun check(std::vector<std::string_view> args) {
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int code = checkCommand(Args(args.data(), args.size()));
  std::string out = ::testing::internal::GetCapturedStdout();
  std::string err = ::testing::internal::GetCapturedStderr();
  return {code, out, err};
}

class CheckCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "portcullis-check-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  std::filesystem::path dir_;
};

TEST_F(CheckCommandTest, ValidConfigPrintsASummaryAndExitsZero) {
  write("p.yaml",
        "rules:\n"
        "  - {name: web, direction: egress, selector: {ports: [{port: 80}]}, http: []}\n"
        "  - {name: dns, direction: egress, selector: {ports: [{port: 53, protocol: ANY}]},\n"
        "     dns: [{matchPattern: \"*.example.test\"}]}\n"
        "  - {name: in, direction: ingress, selector: {ports: [{port: 8080}]},\n"
        "     http: [{path: \"/a/.*\"}]}\n");
  const std::string config = write("c.yaml", "policy-files: [p.yaml]\n");
  const CheckRun r = check({"--config", config});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            config + ": OK, 3 rules in 1 policy file (egress: 1 http, 1 dns; ingress: 1 http)\n");
}

TEST_F(CheckCommandTest, EveryErrorOnItsOwnLineAndExitOne) {
  const std::string policy = write("p.yaml",
                                   "rules:\n"
                                   "  - name: web\n"
                                   "    direction: egress\n"
                                   "    selector: {ports: [{port: 0}]}\n"
                                   "    http: [{method: \"(\"}]\n");
  const std::string config = write("c.yaml", "policy-files: [p.yaml]\n");
  const std::string arg = "--config=" + config;
  const CheckRun r = check({arg});
  EXPECT_EQ(r.code, kExitBadConfig);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, policy + ":4:31: rules[0].selector.ports[0].port: 0 is out of range 1..65535\n" +
                       policy +
                       ":5:21: rules[0].http[0].method: invalid RE2 regular expression: "
                       "missing ): (\n");
}

TEST_F(CheckCommandTest, ExampleConfigInTheRepositoryPasses) {
  std::string root = PORTCULLIS_TEST_DATA;
  root = root.substr(0, root.rfind("/tests/"));
  const CheckRun r = check({"--config", root + "/configs/portcullis.yaml"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr(": OK, "));
}

TEST_F(CheckCommandTest, BadUsageIsOneLineAndExitOne) {
  for (const auto& args :
       std::vector<std::vector<std::string_view>>{{}, {"--config"}, {"--verbose"}, {"c.yaml"}}) {
    const CheckRun r = check(args);
    EXPECT_EQ(r.code, kExitBadConfig);
    EXPECT_EQ(r.out, "");
    EXPECT_THAT(r.err, ::testing::StartsWith("portcullis check: "));
    EXPECT_THAT(r.err, ::testing::EndsWith("usage: portcullis check --config FILE\n"));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
  }
}

TEST_F(CheckCommandTest, TerminatingTlsFilesAreCheckedAsRunLoadsThem) {
  using namespace proxy::tls_testing;  // NOLINT: the test PKI builders
  Pki pki;
  const std::string crt = write("ca.crt", pem(pki.ca.get()));
  const std::string key = write("ca.key", pem(pki.ca_key.get()));
  const std::string policy = write("p.yaml",
                                   "rules:\n"
                                   "  - name: inspect\n"
                                   "    direction: egress\n"
                                   "    selector: {ports: [{port: 443}]}\n"
                                   "    terminatingTLS: {ca-certificate: " + crt +
                                       ", ca-key: " + key + "}\n"
                                   "    http: []\n");
  const std::string config = write("c.yaml", "policy-files: [p.yaml]\n");
  ::chmod(key.c_str(), 0644);
  CheckRun r = check({"--config", config});
  EXPECT_EQ(r.code, kExitBadConfig);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, policy + ":2:5: rule 'inspect' terminatingTLS: " + key +
                       ": private key file mode is wider than 0600: mode 0644; chmod 600 it\n");
  ::chmod(key.c_str(), 0600);
  r = check({"--config", config});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  // A certificate that is not a CA's cannot sign leaves.
  Key leaf_key = ecKey();
  write("ca.crt", pem(pki.leaf("leaf.test", leaf_key.get()).get()));
  write("ca.key", pem(leaf_key.get()));
  r = check({"--config", config});
  EXPECT_EQ(r.code, kExitBadConfig);
  EXPECT_THAT(r.err, ::testing::HasSubstr(crt + ": not a CA certificate"));
}

}  // namespace
}  // namespace portcullis::app
