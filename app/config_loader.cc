#include "app/config_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "policy/parser.h"

namespace portcullis::app {
namespace {

// Config and policy files are hand-written; anything this large is a mistake (or /dev/zero).
constexpr off_t kMaxFileBytes = 16 << 20;

policy::Diagnostic fileError(const std::string& path, const std::string& why) {
  return {policy::SourceLocation{path, 1, 1}, "cannot read: " + why};
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

policy::Parsed<std::string> readFile(const std::string& path) {
  policy::Parsed<std::string> out;
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) {
    out.errors.push_back(fileError(path, std::strerror(errno)));
    return out;
  }
  if (S_ISDIR(st.st_mode)) {
    out.errors.push_back(fileError(path, std::strerror(EISDIR)));
    return out;
  }
  std::string text;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out.errors.push_back(fileError(path, std::strerror(errno)));
      return out;
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (static_cast<off_t>(text.size()) > kMaxFileBytes) {
      out.errors.push_back(fileError(path, "larger than 16 MiB"));
      return out;
    }
  }
  out.value = std::move(text);
  return out;
}

policy::Parsed<policy::Config> readConfig(const std::string& path) {
  auto text = readFile(path);
  if (!text.ok()) return {std::nullopt, std::move(text.errors)};
  return policy::parseConfig(*text.value, path);
}

policy::Parsed<policy::Policy> loadPolicies(const policy::Config& config) {
  std::vector<policy::Policy> policies;
  std::vector<policy::Diagnostic> errors;
  for (const std::string& file : config.policy_files) {
    auto text = readFile(file);
    auto parsed = text.ok() ? policy::parsePolicy(*text.value, file)
                            : policy::Parsed<policy::Policy>{std::nullopt, std::move(text.errors)};
    errors.insert(errors.end(), parsed.errors.begin(), parsed.errors.end());
    if (parsed.ok()) policies.push_back(std::move(*parsed.value));
  }
  // The files that parsed are still checked against each other, so a duplicate name across
  // files shows up in the same run as a syntax error elsewhere.
  auto merged = policy::mergePolicies(std::move(policies));
  errors.insert(errors.end(), merged.errors.begin(), merged.errors.end());
  if (!errors.empty()) return {std::nullopt, std::move(errors)};
  return merged;
}

policy::Parsed<LoadedConfig> loadConfig(const std::string& path) {
  auto config = readConfig(path);
  if (!config.ok()) return {std::nullopt, std::move(config.errors)};
  auto policy = loadPolicies(*config.value);
  if (!policy.ok()) return {std::nullopt, std::move(policy.errors)};
  return {LoadedConfig{std::move(*config.value), std::move(*policy.value)}, {}};
}

}  // namespace portcullis::app
