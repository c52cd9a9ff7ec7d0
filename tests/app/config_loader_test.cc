// loadConfig / loadPolicies against real files in a scratch folder.
#include "app/config_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace portcullis::app {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string dump(const std::vector<policy::Diagnostic>& errors) {
  std::string out;
  for (const auto& d : errors) out += "\n  " + d.toString();
  return out;
}

class ConfigLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "portcullis-loader-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path.string();
  }

  static std::string rule(const std::string& name, int port) {
    return "  - name: " + name +
           "\n    direction: egress\n    selector: {ports: [{port: " + std::to_string(port) +
           "}]}\n    http: []\n";
  }

  std::filesystem::path dir_;
};

TEST_F(ConfigLoaderTest, LoadsConfigAndMergesPolicyFilesInOrder) {
  write("policies/a.yaml", "rules:\n" + rule("a", 80));
  write("policies/b.yaml", "rules:\n" + rule("b", 81) + rule("c", 82));
  const std::string config =
      write("portcullis.yaml",
            "datapath: {route-table: 100}\npolicy-files: [policies/a.yaml, policies/b.yaml]\n");
  const auto loaded = loadConfig(config);
  ASSERT_TRUE(loaded.ok()) << dump(loaded.errors);
  EXPECT_EQ(loaded.value->config.file, config);
  EXPECT_EQ(loaded.value->config.datapath.route_table, 100u);
  EXPECT_THAT(loaded.value->config.policy_files, ElementsAre((dir_ / "policies/a.yaml").string(),
                                                             (dir_ / "policies/b.yaml").string()));
  ASSERT_EQ(loaded.value->policy.rules.size(), 3u);
  EXPECT_EQ(loaded.value->policy.rules[0].name, "a");
  EXPECT_EQ(loaded.value->policy.rules[2].name, "c");
  EXPECT_EQ(loaded.value->policy.rules[2].where.file, (dir_ / "policies/b.yaml").string());
}

TEST_F(ConfigLoaderTest, MissingConfigFileIsOneDiagnosticWithStrerror) {
  const std::string path = (dir_ / "absent.yaml").string();
  const auto loaded = loadConfig(path);
  ASSERT_FALSE(loaded.ok());
  ASSERT_EQ(loaded.errors.size(), 1u);
  EXPECT_EQ(loaded.errors[0].toString(), path + ":1:1: cannot read: No such file or directory");
}

TEST_F(ConfigLoaderTest, DirectoryIsNotAConfigFile) {
  const auto loaded = loadConfig(dir_.string());
  ASSERT_EQ(loaded.errors.size(), 1u);
  EXPECT_EQ(loaded.errors[0].toString(), dir_.string() + ":1:1: cannot read: Is a directory");
}

TEST_F(ConfigLoaderTest, EndlessFileIsRefusedNotRead) {
  const auto text = readFile("/dev/zero");
  ASSERT_EQ(text.errors.size(), 1u);
  EXPECT_EQ(text.errors[0].toString(), "/dev/zero:1:1: cannot read: larger than 16 MiB");
}

TEST_F(ConfigLoaderTest, ReportsErrorsOfEveryPolicyFileAtOnce) {
  write("a.yaml", "rules:\n" + rule("web", 80));
  write("b.yaml", "rules:\n" + rule("web", 81));
  write("c.yaml", "rules:\n  - name: bad\n    direction: sideways\n");
  const std::string config =
      write("portcullis.yaml", "policy-files: [a.yaml, b.yaml, c.yaml, missing.yaml]\n");
  const auto loaded = loadConfig(config);
  ASSERT_FALSE(loaded.ok());
  const std::string a = (dir_ / "a.yaml").string();
  const std::string b = (dir_ / "b.yaml").string();
  const std::string c = (dir_ / "c.yaml").string();
  const std::string missing = (dir_ / "missing.yaml").string();
  ASSERT_EQ(loaded.errors.size(), 5u) << dump(loaded.errors);
  EXPECT_EQ(loaded.errors[0].toString(), c + ":2:5: missing required key 'selector' in rules[0]");
  EXPECT_EQ(loaded.errors[1].toString(),
            c + ":2:5: rule 'bad' needs one L7 section: http, dns or tls");
  EXPECT_THAT(loaded.errors[2].toString(), HasSubstr(c + ":3:16: rules[0].direction"));
  EXPECT_EQ(loaded.errors[3].toString(), missing + ":1:1: cannot read: No such file or directory");
  // The files that parsed are still checked against each other.
  EXPECT_EQ(loaded.errors[4].toString(),
            b + ":2:5: duplicate rule name 'web'; first defined at " + a + ":2:5");
}

TEST_F(ConfigLoaderTest, ConfigErrorsStopBeforeThePolicyFiles) {
  const std::string config =
      write("portcullis.yaml", "proxy: {admin: nowhere}\npolicy-files: [missing.yaml]\n");
  const auto loaded = loadConfig(config);
  ASSERT_EQ(loaded.errors.size(), 1u) << dump(loaded.errors);
  EXPECT_EQ(loaded.errors[0].where, (policy::SourceLocation{config, 1, 16}));
  EXPECT_THAT(loaded.errors[0].message, HasSubstr("proxy.admin"));
}

TEST_F(ConfigLoaderTest, LoadPoliciesRereadsTheFiles) {
  // What SIGHUP does: the config stays, the policy files are read again.
  write("p.yaml", "rules:\n" + rule("a", 80));
  const auto config = readConfig(write("portcullis.yaml", "policy-files: [p.yaml]\n"));
  ASSERT_TRUE(config.ok()) << dump(config.errors);
  auto first = loadPolicies(*config.value);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first.value->rules.size(), 1u);

  write("p.yaml", "rules:\n" + rule("a", 80) + rule("b", 81));
  auto second = loadPolicies(*config.value);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.value->rules.size(), 2u);

  write("p.yaml", "rules: [");
  auto broken = loadPolicies(*config.value);
  EXPECT_FALSE(broken.ok());
  ASSERT_EQ(broken.errors.size(), 1u);
  EXPECT_THAT(broken.errors[0].message, HasSubstr("YAML syntax error"));
}

}  // namespace
}  // namespace portcullis::app
